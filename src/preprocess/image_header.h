// SPDX-License-Identifier: Apache-2.0
// mnet: what an image file's header says, read without decoding it, so the front end can refuse a
// decompression bomb (or a format it does not decode) before OpenCV allocates anything for it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mnet {

struct DeclaredSize {
    int64_t width = 0;
    int64_t height = 0;
};

struct ImageHeader {
    // "PNG", "JPEG", "BMP", "WebP", "TIFF", "PNM", "PAM", "PFM", "Sun raster", "Radiance HDR", "OpenEXR",
    // "JPEG 2000", "DICOM": every format a decoder of Debian's OpenCV 4.6 recognises, by the same signature
    // test; nullptr when the data matches none of them.
    const char* format = nullptr;
    // Every image size the header declares (JPEG 2000 states it twice: in the jp2 box and in the codestream,
    // and the decoder allocates from the latter). Empty when the header is cut short or malformed.
    std::vector<DeclaredSize> sizes;
};

// Sniffs the format of data[0, size) and reads the declared sizes. Never reads outside the buffer; thread-safe.
ImageHeader read_image_header(const uint8_t* data, size_t size);

// The entropy-coded part of a JPEG, walked marker by marker from its first scan.
struct JpegScans {
    size_t scans = 0;      // start-of-scan markers; 0 when no scan header was found
    bool has_eoi = false;  // an end-of-image marker follows the scans
};

// REQUIRES: data holds a JPEG (read_image_header said so).
JpegScans jpeg_scans(const uint8_t* data, size_t size);

}  // namespace mnet
