// libjpeg-turbo's TurboJPEG API (Debian's libturbojpeg0-dev): JPEG decoding with
// DCT-domain scaling for the image-folder data sets, and encoding for
// `make-image-folder` and the tests.
#pragma once
#include <turbojpeg.h>
