// SPDX-License-Identifier: Apache-2.0
// Image files the bad-input and unusual-format tests build at run time, byte by byte or with libjpeg: palette
// PNGs, EXIF orientation tags, CMYK/YCCK JPEGs, and headers that declare huge images in every format OpenCV
// decodes. Shared by tests/unit (pixels) and tests/cli (the mnet command on the same files).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace mnet::test {

using Bytes = std::vector<uint8_t>;

// cv::imencode, failing the test when OpenCV cannot write `ext`.
Bytes encode_image(const cv::Mat& image, const std::string& ext, const std::vector<int>& params = {});

// An 8-bit palette PNG (colour type 3) with a tRNS chunk giving every entry some transparency; index holds one
// palette index per pixel (CV_8UC1), rgb the palette.
Bytes palette_png(const cv::Mat& index, const std::vector<cv::Vec3b>& rgb);

// `jpeg` with an EXIF APP1 segment inserted right after SOI holding one IFD0 entry, Orientation = orientation,
// in big-endian ("MM") or little-endian ("II") TIFF byte order.
Bytes with_exif_orientation(const Bytes& jpeg, uint16_t orientation, bool big_endian = true);

// `jpeg` with `payload` as an APP1 segment right after SOI (for malformed EXIF blocks). REQUIRES: size < 65534.
Bytes with_app1(const Bytes& jpeg, const Bytes& payload);

// What a viewer shows for `stored` pixels tagged with EXIF orientation 1..8 (TIFF 6.0 / EXIF 2.3 tag 0x0112).
cv::Mat apply_orientation(const cv::Mat& stored, int orientation);

// A 4-component JPEG of `bgr` (CV_8UC3) as Photoshop writes them: Adobe APP14 marker, inverted CMYK samples
// (C = R, M = G, Y = B, K = 255 stored, i.e. no black ink), and with `ycck` the YCCK transform on top.
// Quality 100 with no chroma subsampling, so the decoded colours are within a few levels of `bgr`.
Bytes cmyk_jpeg(const cv::Mat& bgr, bool ycck);

// `jpeg` (progressive) with its last scan repeated `extra` more times before EOI.
Bytes with_repeated_last_scan(const Bytes& jpeg, size_t extra);

// A header-only file in `format` declaring a width x height image, with no pixel data after it: what a
// decompression bomb looks like to the header check. Formats: "BMP", "WebP", "TIFF", "BigTIFF", "PNM", "PAM",
// "PFM", "Sun raster", "Radiance HDR", "OpenEXR", "J2K", "JP2" (the jp2 box declares 64x64, only the codestream
// is huge), "PNG", "JPEG".
Bytes bomb_header(const std::string& format, uint32_t width, uint32_t height);

// The formats bomb_header knows.
const std::vector<std::string>& bomb_formats();

}  // namespace mnet::test
