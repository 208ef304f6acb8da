// SPDX-License-Identifier: Apache-2.0
// mnet: PNG decoding through libpng directly, pixel for pixel what cv::imdecode(IMREAD_COLOR) gives, for PNGs
// without EXIF; everything else goes to OpenCV (opencv_codecs.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include <opencv2/core.hpp>

namespace mnet {

// The image as 8-bit BGR (CV_8UC3), decoded with the libpng transformations OpenCV 4.6's PNG decoder asks for
// under IMREAD_COLOR (16-bit samples stripped to their high byte, alpha stripped, palettes expanded, grey of
// 1-8 bits expanded and copied into three channels, interlacing undone), or nullopt when the file is one OpenCV
// must decode: a PNG with an eXIf chunk (its orientation is OpenCV's to apply), more pixels than OpenCV
// accepts, or any error libpng raises (OpenCV then reports it). libpng's warnings go to stderr as they do from
// OpenCV. Thread-safe; never keeps `data`.
std::optional<cv::Mat> decode_png(const uint8_t* data, size_t size);

}  // namespace mnet
