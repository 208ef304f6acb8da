// SPDX-License-Identifier: Apache-2.0
// mnet: JPEG decoding through libjpeg(-turbo) directly, pixel for pixel what cv::imdecode(IMREAD_COLOR) gives, for
// the JPEGs photos are: 1 or 3 components, upright. Everything else goes to OpenCV (opencv_codecs.h), which this
// path spares loading for those photos.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include <opencv2/core.hpp>

#include "mnet/model.h"

namespace mnet {

// The image as 8-bit BGR (CV_8UC3), decoded as OpenCV 4.6's JPEG decoder does (libjpeg defaults, RGB output
// in BGR order, grey expanded to three equal channels by libjpeg), or nullopt when the file is one OpenCV
// must decode: a CMYK/YCCK JPEG (4 components), an EXIF orientation other than 1 (or an APP1 segment that is
// not a well-formed EXIF block), no Huffman tables (Motion-JPEG frames, which OpenCV completes), more pixels
// than OpenCV accepts, or any error libjpeg raises (OpenCV then reports it). libjpeg's warnings go to stderr
// as they do from OpenCV. Thread-safe; never keeps `data`.
// With `scaled_for`, the image is decoded at the smallest of libjpeg's DCT scales 1/8, 1/4 and 1/2 whose result
// still has a central crop (scaled_for->crop, as the preprocessing cuts it) of at least scaled_for->width x
// height pixels, or at full size when none has: never upscaled. The IDCT then computes only the low
// frequencies, which cuts the decoding cost; the pixels are those of cv::imdecode with IMREAD_REDUCED_COLOR_2/4/8,
// so not bit-exact with the reference preprocessing, which decodes at full size.
std::optional<cv::Mat> decode_jpeg(const uint8_t* data, size_t size, const Preprocess* scaled_for = nullptr);

}  // namespace mnet
