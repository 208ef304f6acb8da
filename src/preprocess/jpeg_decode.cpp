// SPDX-License-Identifier: Apache-2.0
// The steps are those of OpenCV 4.6's JpegDecoder (modules/imgcodecs/src/grfmt_jpeg.cpp): jpeg_read_header with
// APP1 saved, the first APP1 segment read as EXIF for the orientation, libjpeg's default decompression
// parameters, RGB output with 3 components, one scanline at a time, RGB swapped to BGR. We ask libjpeg-turbo for
// JCS_EXT_BGR instead: the same colour conversion with the channels stored the other way round, which spares a
// pass over every pixel (about a tenth of the decoding's instructions on the shared photos). The test
// test_jpeg_decode compares the result with cv::imdecode on the shared photos and the image fixtures.
#include "preprocess/jpeg_decode.h"

#include <csetjmp>
#include <cstdio>  // jpeglib.h needs FILE declared first
#include <cstring>

#include <jpeglib.h>

#ifndef JCS_EXTENSIONS
#error "mnet decodes JPEG with libjpeg-turbo (JCS_EXT_BGR)"
#endif

namespace mnet {
namespace {

// OpenCV's own bounds (CV_IO_MAX_IMAGE_WIDTH/HEIGHT/PIXELS): past them it refuses, so we leave it to refuse.
constexpr long kMaxSide = long{1} << 20;
constexpr long kMaxPixels = long{1} << 30;
constexpr unsigned kOrientationTag = 0x0112;
constexpr unsigned kTiffShort = 3;

struct ErrorJump {
    jpeg_error_mgr mgr;  // first: libjpeg hands back a pointer to it
    std::jmp_buf jump;
};

[[noreturn]] void jump_on_error(j_common_ptr cinfo) { std::longjmp(reinterpret_cast<ErrorJump*>(cinfo->err)->jump, 1); }

unsigned read16(const JOCTET* p, bool big_endian) {
    return big_endian ? (unsigned{p[0]} << 8) | p[1] : (unsigned{p[1]} << 8) | p[0];
}

unsigned long read32(const JOCTET* p, bool big_endian) {
    return big_endian ? (static_cast<unsigned long>(read16(p, true)) << 16) | read16(p + 2, true)
                      : (static_cast<unsigned long>(read16(p + 2, false)) << 16) | read16(p, false);
}

// True when the EXIF block in an APP1 segment is well formed as far as IFD0 and says the image is upright
// (orientation 1, or no orientation tag). Anything else (a rotation, a flip, a strange or cut block) is OpenCV's.
bool exif_upright(const JOCTET* data, unsigned int size) {
    static const JOCTET kExif[6] = {'E', 'x', 'i', 'f', 0, 0};
    if (size < 6 + 8 || std::memcmp(data, kExif, 6) != 0) return false;
    const JOCTET* tiff = data + 6;
    const unsigned long length = size - 6;
    bool big_endian;
    if (tiff[0] == 'I' && tiff[1] == 'I') {
        big_endian = false;
    } else if (tiff[0] == 'M' && tiff[1] == 'M') {
        big_endian = true;
    } else {
        return false;
    }
    if (read16(tiff + 2, big_endian) != 42) return false;
    const unsigned long ifd = read32(tiff + 4, big_endian);
    if (ifd > length || length - ifd < 2) return false;
    const unsigned long entries = read16(tiff + ifd, big_endian);
    if ((length - ifd - 2) / 12 < entries) return false;
    for (unsigned long i = 0; i < entries; ++i) {
        const JOCTET* entry = tiff + ifd + 2 + 12 * i;
        if (read16(entry, big_endian) != kOrientationTag) continue;
        return read16(entry + 2, big_endian) == kTiffShort && read32(entry + 4, big_endian) == 1 &&
               read16(entry + 8, big_endian) == 1;
    }
    return true;
}

// Whether this header describes a JPEG the fast path decodes exactly as OpenCV would (see decode_jpeg).
bool ours_to_decode(const jpeg_decompress_struct& cinfo) {
    if (cinfo.num_components != 1 && cinfo.num_components != 3) return false;
    if (cinfo.ac_huff_tbl_ptrs[0] == nullptr && cinfo.ac_huff_tbl_ptrs[1] == nullptr &&
        cinfo.dc_huff_tbl_ptrs[0] == nullptr && cinfo.dc_huff_tbl_ptrs[1] == nullptr) {
        return false;  // OpenCV loads the Motion-JPEG default tables here
    }
    const long width = cinfo.image_width, height = cinfo.image_height;
    if (width <= 0 || height <= 0 || width > kMaxSide || height > kMaxSide || width * height > kMaxPixels) return false;
    for (jpeg_saved_marker_ptr m = cinfo.marker_list; m != nullptr; m = m->next) {
        if (m->marker == JPEG_APP0 + 1) return exif_upright(m->data, m->data_length);  // OpenCV reads the first
    }
    return true;
}

// Sets the smallest DCT scale 1/denominator whose output still covers `pp`'s crop at its input size (see
// decode_jpeg), leaving 1/1 when none does. libjpeg computes each candidate's output size itself.
void choose_scale(jpeg_decompress_struct& cinfo, const Preprocess& pp) {
    // libjpeg-turbo's fast reduced IDCTs: SIMD at 1/2 and 1/4, the DC term alone at 1/8 (its other N/8 scales
    // run plain C code).
    static constexpr unsigned kDenominators[] = {8, 4, 2};
    for (const unsigned denominator : kDenominators) {
        cinfo.scale_num = 1;
        cinfo.scale_denom = denominator;
        jpeg_calc_output_dimensions(&cinfo);
        // int(side * crop) >= size, as the crop truncates, holds exactly when side * crop >= size.
        if (static_cast<double>(cinfo.output_width) * pp.crop >= pp.width &&
            static_cast<double>(cinfo.output_height) * pp.crop >= pp.height) {
            return;
        }
    }
    cinfo.scale_denom = 1;
}

}  // namespace

std::optional<cv::Mat> decode_jpeg(const uint8_t* data, size_t size, const Preprocess* scaled_for) {
    // Everything with a destructor lives before setjmp: a longjmp back must not skip one.
    cv::Mat image;
    jpeg_decompress_struct cinfo{};
    ErrorJump errors{};
    cinfo.err = jpeg_std_error(&errors.mgr);
    errors.mgr.error_exit = jump_on_error;
    if (setjmp(errors.jump) != 0) {
        jpeg_destroy_decompress(&cinfo);
        return std::nullopt;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xffff);
    jpeg_read_header(&cinfo, TRUE);
    if (!ours_to_decode(cinfo)) {
        jpeg_destroy_decompress(&cinfo);
        return std::nullopt;
    }
    cinfo.out_color_space = JCS_EXT_BGR;
    cinfo.out_color_components = 3;
    if (scaled_for != nullptr) choose_scale(cinfo, *scaled_for);
    jpeg_start_decompress(&cinfo);
    image.create(static_cast<int>(cinfo.output_height), static_cast<int>(cinfo.output_width), CV_8UC3);
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = image.ptr<uint8_t>(static_cast<int>(cinfo.output_scanline));
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return image;
}

}  // namespace mnet
