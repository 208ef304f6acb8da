// SPDX-License-Identifier: Apache-2.0
// The calls are those of OpenCV 4.6's PngDecoder (modules/imgcodecs/src/grfmt_png.cpp) for an 8-bit, 3-channel
// destination: default error and warning handlers, png_read_info, then strip_16, strip_alpha, palette_to_rgb,
// expand_gray_1_2_4_to_8, bgr (colour) or gray_to_rgb (grey), interlace handling, png_read_image, png_read_end.
// test_png_decode compares the result with cv::imdecode on the shared photos and the PNG fixtures.
#include "preprocess/png_decode.h"

#include <csetjmp>
#include <cstring>
#include <vector>

#include <png.h>

namespace mnet {
namespace {

// OpenCV's own bounds (CV_IO_MAX_IMAGE_WIDTH/HEIGHT/PIXELS): past them it refuses, so we leave it to refuse.
constexpr png_uint_32 kMaxSide = png_uint_32{1} << 20;
constexpr uint64_t kMaxPixels = uint64_t{1} << 30;
constexpr size_t kSignatureBytes = 8;
constexpr size_t kChunkOverhead = 12;  // length, type, CRC

struct Source {
    const uint8_t* data;
    size_t size;
    size_t pos;
};

void read_from_memory(png_structp png, png_bytep out, png_size_t length) {
    auto* src = static_cast<Source*>(png_get_io_ptr(png));
    if (length > src->size - src->pos) png_error(png, "Read Error");  // what a cut file gives through OpenCV
    std::memcpy(out, src->data + src->pos, length);
    src->pos += length;
}

uint32_t big_endian32(const uint8_t* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// Walks the chunk list (lengths bounded by the file): true if an eXIf chunk comes anywhere, or the list cannot
// be walked to IEND, in which case OpenCV decides what the file is.
bool has_exif_or_odd_chunks(const uint8_t* data, size_t size) {
    size_t pos = kSignatureBytes;
    while (size - pos >= kChunkOverhead) {
        const uint32_t length = big_endian32(data + pos);
        if (std::memcmp(data + pos + 4, "eXIf", 4) == 0) return true;
        if (std::memcmp(data + pos + 4, "IEND", 4) == 0) return false;
        if (length > size - pos - kChunkOverhead) return true;
        pos += kChunkOverhead + length;
    }
    return true;
}

struct ReadStructs {
    png_structp png = nullptr;
    png_infop info = nullptr;
    png_infop end = nullptr;
    ~ReadStructs() { png_destroy_read_struct(&png, &info, &end); }
};

// libpng's reading proper: everything here may longjmp, so it owns nothing with a destructor.
bool read_png(png_structp png, png_infop info, png_infop end, cv::Mat& image, std::vector<png_bytep>& rows) {
    if (setjmp(png_jmpbuf(png)) != 0) return false;
    png_read_info(png, info);
    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, color_type = 0;
    png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, nullptr, nullptr, nullptr);
    if (width == 0 || height == 0 || width > kMaxSide || height > kMaxSide ||
        uint64_t{width} * height > kMaxPixels) {
        return false;
    }
    if (bit_depth == 16) png_set_strip_16(png);
    png_set_strip_alpha(png);
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if ((color_type & PNG_COLOR_MASK_COLOR) == 0 && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if ((color_type & PNG_COLOR_MASK_COLOR) != 0) {
        png_set_bgr(png);
    } else {
        png_set_gray_to_rgb(png);
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != size_t{width} * 3) return false;  // not 8-bit BGR after all: OpenCV's
    image.create(static_cast<int>(height), static_cast<int>(width), CV_8UC3);
    rows.resize(height);
    for (png_uint_32 y = 0; y < height; ++y) rows[y] = image.ptr<uint8_t>(static_cast<int>(y));
    png_read_image(png, rows.data());
    png_read_end(png, end);
    return true;
}

}  // namespace

std::optional<cv::Mat> decode_png(const uint8_t* data, size_t size) {
    if (size < kSignatureBytes || png_sig_cmp(data, 0, kSignatureBytes) != 0) return std::nullopt;
    if (has_exif_or_odd_chunks(data, size)) return std::nullopt;
    ReadStructs s;
    s.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    if (s.png == nullptr) return std::nullopt;
    s.info = png_create_info_struct(s.png);
    s.end = png_create_info_struct(s.png);
    if (s.info == nullptr || s.end == nullptr) return std::nullopt;
    Source source{data, size, 0};
    png_set_read_fn(s.png, &source, read_from_memory);
    cv::Mat image;
    std::vector<png_bytep> rows;
    if (!read_png(s.png, s.info, s.end, image, rows)) return std::nullopt;
    return image;
}

}  // namespace mnet
