// OpenBLAS's CBLAS interface (Debian libopenblas-dev), plus its thread control.
#pragma once
#include <cblas.h>
