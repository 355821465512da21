// zlib's gzip file reader, used for the Fashion-MNIST IDX files.
#pragma once
#include <zlib.h>
