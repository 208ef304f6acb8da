// SPDX-License-Identifier: Apache-2.0
// mnet: OpenCV's image codecs (libopencv_imgcodecs), loaded on first use instead of at start-up.
//
// Debian's libopencv_imgcodecs links GDAL, poppler, MariaDB, PostgreSQL, HDF5, netCDF and more: about 140 shared
// libraries whose loading and initialisation took ~60 ms of every mnet process's start, whether it decoded an
// image or not. mnet decodes the common JPEGs itself (jpeg_decode.h) and calls OpenCV only for the rest.
#pragma once

#include <opencv2/core.hpp>

namespace mnet {

// cv::imdecode(buffer, flags) from the imgcodecs library, loaded (once, thread-safely) on the first call.
// Throws mnet::Error Backend "cannot load OpenCV's image codecs (<dlerror>)" if the library or the function
// cannot be found; cv::Exception from imdecode itself passes through.
cv::Mat opencv_imdecode(const cv::Mat& buffer, int flags);

}  // namespace mnet
