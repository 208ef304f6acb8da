// SPDX-License-Identifier: Apache-2.0
#include "unit/image_fixtures.h"

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

// libjpeg's header needs FILE and size_t declared first.
#include <jpeglib.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

namespace mnet::test {
namespace {

void put_be16(Bytes& v, uint32_t x) {
    v.push_back(static_cast<uint8_t>(x >> 8));
    v.push_back(static_cast<uint8_t>(x));
}
void put_be32(Bytes& v, uint32_t x) {
    put_be16(v, x >> 16);
    put_be16(v, x & 0xFFFF);
}
void put_le16(Bytes& v, uint32_t x) {
    v.push_back(static_cast<uint8_t>(x));
    v.push_back(static_cast<uint8_t>(x >> 8));
}
void put_le32(Bytes& v, uint32_t x) {
    put_le16(v, x & 0xFFFF);
    put_le16(v, x >> 16);
}
void put_text(Bytes& v, const std::string& s) { v.insert(v.end(), s.begin(), s.end()); }

uint32_t crc32(const uint8_t* p, size_t n) {
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; ++i) {
        crc ^= p[i];
        for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

void put_png_chunk(Bytes& png, const char* type, const Bytes& data) {
    put_be32(png, static_cast<uint32_t>(data.size()));
    Bytes body(type, type + 4);
    body.insert(body.end(), data.begin(), data.end());
    png.insert(png.end(), body.begin(), body.end());
    put_be32(png, crc32(body.data(), body.size()));
}

Bytes png_start(uint32_t width, uint32_t height, uint8_t color_type) {
    Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    Bytes ihdr;
    put_be32(ihdr, width);
    put_be32(ihdr, height);
    ihdr.insert(ihdr.end(), {8, color_type, 0, 0, 0});  // bit depth 8, deflate, filter 0, no interlace
    put_png_chunk(png, "IHDR", ihdr);
    return png;
}

// A zlib stream of stored (uncompressed) deflate blocks: no zlib needed.
Bytes zlib_stored(const Bytes& raw) {
    constexpr size_t kMaxStored = 65535;
    Bytes z = {0x78, 0x01};
    size_t pos = 0;
    do {
        const size_t n = std::min(raw.size() - pos, kMaxStored);
        const bool last = pos + n == raw.size();
        z.push_back(static_cast<uint8_t>(last));
        put_le16(z, static_cast<uint32_t>(n));
        put_le16(z, static_cast<uint32_t>(~n & 0xFFFF));
        z.insert(z.end(), raw.begin() + static_cast<long>(pos), raw.begin() + static_cast<long>(pos + n));
        pos += n;
    } while (pos < raw.size());
    uint32_t a = 1, b = 0;
    for (uint8_t x : raw) a = (a + x) % 65521, b = (b + a) % 65521;
    put_be32(z, b << 16 | a);
    return z;
}

// A J2K codestream main header: SOC, SIZ for 3 8-bit components, no tiles or data after it.
Bytes j2k_header(uint32_t width, uint32_t height) {
    constexpr uint32_t kComponents = 3;
    Bytes j = {0xFF, 0x4F, 0xFF, 0x51};
    put_be16(j, 38 + 3 * kComponents);  // Lsiz
    put_be16(j, 0);                     // Rsiz
    for (uint32_t v : {width, height, 0u, 0u, width, height, 0u, 0u}) put_be32(j, v);  // X/Ysiz, offsets, tiles
    put_be16(j, kComponents);
    for (uint32_t c = 0; c < kComponents; ++c) j.insert(j.end(), {7, 1, 1});  // 8-bit unsigned, no subsampling
    return j;
}

void put_box(Bytes& out, const char* type, const Bytes& payload) {
    put_be32(out, static_cast<uint32_t>(8 + payload.size()));
    put_text(out, type);
    out.insert(out.end(), payload.begin(), payload.end());
}

struct JpegError {
    jpeg_error_mgr mgr;
    std::jmp_buf jump;
};

}  // namespace

Bytes encode_image(const cv::Mat& image, const std::string& ext, const std::vector<int>& params) {
    Bytes bytes;
    if (!cv::imencode(ext, image, bytes, params)) throw std::runtime_error("cv::imencode cannot write " + ext);
    return bytes;
}

Bytes palette_png(const cv::Mat& index, const std::vector<cv::Vec3b>& rgb) {
    Bytes png = png_start(static_cast<uint32_t>(index.cols), static_cast<uint32_t>(index.rows), 3);
    Bytes plte, trns;
    for (size_t i = 0; i < rgb.size(); ++i) {
        plte.insert(plte.end(), {rgb[i][0], rgb[i][1], rgb[i][2]});
        trns.push_back(static_cast<uint8_t>(i * 37));
    }
    put_png_chunk(png, "PLTE", plte);
    put_png_chunk(png, "tRNS", trns);
    Bytes raw;
    for (int y = 0; y < index.rows; ++y) {
        raw.push_back(0);  // filter: none
        raw.insert(raw.end(), index.ptr<uint8_t>(y), index.ptr<uint8_t>(y) + index.cols);
    }
    put_png_chunk(png, "IDAT", zlib_stored(raw));
    put_png_chunk(png, "IEND", {});
    return png;
}

Bytes with_app1(const Bytes& jpeg, const Bytes& payload) {
    if (jpeg.size() < 2 || jpeg[0] != 0xFF || jpeg[1] != 0xD8) throw std::runtime_error("with_app1: not a JPEG");
    Bytes segment = {0xFF, 0xE1};
    put_be16(segment, static_cast<uint32_t>(payload.size() + 2));
    segment.insert(segment.end(), payload.begin(), payload.end());
    Bytes out = jpeg;
    out.insert(out.begin() + 2, segment.begin(), segment.end());
    return out;
}

Bytes with_exif_orientation(const Bytes& jpeg, uint16_t orientation, bool big_endian) {
    constexpr uint32_t kTagOrientation = 0x0112, kTypeShort = 3, kIfdOffset = 8;
    Bytes p;
    put_text(p, std::string("Exif\0\0", 6));
    auto u16 = [&](uint32_t x) { big_endian ? put_be16(p, x) : put_le16(p, x); };
    auto u32 = [&](uint32_t x) { big_endian ? put_be32(p, x) : put_le32(p, x); };
    put_text(p, big_endian ? "MM" : "II");
    u16(42);
    u32(kIfdOffset);
    u16(1);  // one entry
    u16(kTagOrientation);
    u16(kTypeShort);
    u32(1);            // count
    u16(orientation);  // a SHORT sits in the first two bytes of the value field
    u16(0);
    u32(0);  // no next IFD
    return with_app1(jpeg, p);
}

cv::Mat apply_orientation(const cv::Mat& stored, int orientation) {
    cv::Mat out;
    switch (orientation) {
        case 2: cv::flip(stored, out, 1); break;                            // mirrored left-right
        case 3: cv::rotate(stored, out, cv::ROTATE_180); break;
        case 4: cv::flip(stored, out, 0); break;                            // mirrored top-bottom
        case 5: cv::transpose(stored, out); break;                          // row 0 is the left side
        case 6: cv::rotate(stored, out, cv::ROTATE_90_CLOCKWISE); break;    // row 0 is the right side
        case 7: cv::rotate(stored.t(), out, cv::ROTATE_180); break;         // the anti-diagonal transpose
        case 8: cv::rotate(stored, out, cv::ROTATE_90_COUNTERCLOCKWISE); break;
        default: out = stored.clone();
    }
    return out;
}

Bytes cmyk_jpeg(const cv::Mat& bgr, bool ycck) {
    constexpr int kComponents = 4;
    constexpr int kQuality = 100;
    jpeg_compress_struct cinfo {};
    JpegError err {};
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = [](j_common_ptr c) { std::longjmp(reinterpret_cast<JpegError*>(c->err)->jump, 1); };
    unsigned char* out = nullptr;
    unsigned long out_size = 0;
    std::vector<uint8_t> row(static_cast<size_t>(bgr.cols) * kComponents);
    if (setjmp(err.jump) != 0) {
        jpeg_destroy_compress(&cinfo);
        std::free(out);
        throw std::runtime_error("libjpeg failed to write the CMYK test image");
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &out, &out_size);
    cinfo.image_width = static_cast<JDIMENSION>(bgr.cols);
    cinfo.image_height = static_cast<JDIMENSION>(bgr.rows);
    cinfo.input_components = kComponents;
    cinfo.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&cinfo);
    jpeg_set_colorspace(&cinfo, ycck ? JCS_YCCK : JCS_CMYK);
    jpeg_set_quality(&cinfo, kQuality, TRUE);
    for (int c = 0; c < kComponents; ++c) cinfo.comp_info[c].h_samp_factor = cinfo.comp_info[c].v_samp_factor = 1;
    cinfo.write_Adobe_marker = TRUE;
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        const cv::Vec3b* src = bgr.ptr<cv::Vec3b>(static_cast<int>(cinfo.next_scanline));
        for (int x = 0; x < bgr.cols; ++x) {
            // Inverted CMYK (Adobe): the stored value is 255 - ink. With C = 255 - R and no black that is R.
            uint8_t* dst = &row[static_cast<size_t>(x) * kComponents];
            dst[0] = src[x][2];
            dst[1] = src[x][1];
            dst[2] = src[x][0];
            dst[3] = 255;
        }
        JSAMPROW rows[1] = {row.data()};
        jpeg_write_scanlines(&cinfo, rows, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    Bytes bytes(out, out + out_size);
    std::free(out);
    return bytes;
}

Bytes with_repeated_last_scan(const Bytes& jpeg, size_t extra) {
    const size_t n = jpeg.size();
    if (n < 4 || jpeg[n - 2] != 0xFF || jpeg[n - 1] != 0xD9) throw std::runtime_error("no EOI at the end");
    size_t sos = n - 2;
    while (sos > 0 && !(jpeg[sos - 1] == 0xFF && jpeg[sos] == 0xDA)) --sos;
    if (sos == 0) throw std::runtime_error("no scan");
    const Bytes scan(jpeg.begin() + static_cast<long>(sos - 1), jpeg.end() - 2);
    Bytes out(jpeg.begin(), jpeg.end() - 2);
    for (size_t i = 0; i < extra; ++i) out.insert(out.end(), scan.begin(), scan.end());
    out.insert(out.end(), {0xFF, 0xD9});
    return out;
}

const std::vector<std::string>& bomb_formats() {
    static const std::vector<std::string> formats = {"PNG", "JPEG", "BMP", "WebP", "TIFF", "BigTIFF",
                                                     "PNM", "PAM", "PFM", "Sun raster", "Radiance HDR",
                                                     "OpenEXR", "J2K", "JP2"};
    return formats;
}

Bytes bomb_header(const std::string& format, uint32_t width, uint32_t height) {
    Bytes b;
    if (format == "PNG") {
        b = png_start(width, height, 2);
        put_png_chunk(b, "IEND", {});
    } else if (format == "JPEG") {  // SOI, SOF0 with 3 components; 16-bit sizes
        b = {0xFF, 0xD8, 0xFF, 0xC0, 0, 17, 8};
        put_be16(b, height);
        put_be16(b, width);
        b.insert(b.end(), {3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0});
    } else if (format == "BMP") {  // BITMAPFILEHEADER + BITMAPINFOHEADER, 24-bit
        put_text(b, "BM");
        for (uint32_t v : {54u, 0u, 54u, 40u, width, height}) put_le32(b, v);
        put_le16(b, 1);
        put_le16(b, 24);
        for (int i = 0; i < 6; ++i) put_le32(b, 0);
    } else if (format == "WebP") {  // RIFF + VP8X with 24-bit canvas sizes minus one
        put_text(b, "RIFF");
        put_le32(b, 22);
        put_text(b, "WEBPVP8X");
        put_le32(b, 10);
        put_le32(b, 0);
        for (uint32_t v : {width - 1, height - 1}) b.insert(b.end(), {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16)});
    } else if (format == "TIFF") {  // little-endian, IFD0 with ImageWidth and ImageLength as LONG
        put_text(b, "II");
        put_le16(b, 42);
        put_le32(b, 8);
        put_le16(b, 2);
        for (uint32_t tag : {256u, 257u}) {
            put_le16(b, tag);
            put_le16(b, 4);
            put_le32(b, 1);
            put_le32(b, tag == 256 ? width : height);
        }
        put_le32(b, 0);
    } else if (format == "BigTIFF") {  // big-endian, 20-byte entries, LONG8 values
        put_text(b, "MM");
        put_be16(b, 43);
        put_be16(b, 8);
        put_be16(b, 0);
        put_be32(b, 0);
        put_be32(b, 16);  // IFD0 offset (u64)
        put_be32(b, 0);
        put_be32(b, 2);  // entry count (u64)
        for (uint32_t tag : {256u, 257u}) {
            put_be16(b, tag);
            put_be16(b, 16);
            put_be32(b, 0);
            put_be32(b, 1);
            put_be32(b, 0);
            put_be32(b, tag == 256 ? width : height);
        }
        for (int i = 0; i < 2; ++i) put_be32(b, 0);
    } else if (format == "PNM") {
        put_text(b, "P6\n# a comment\n" + std::to_string(width) + " " + std::to_string(height) + "\n255\n");
    } else if (format == "PAM") {
        put_text(b, "P7\nWIDTH " + std::to_string(width) + "\nHEIGHT " + std::to_string(height) +
                        "\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n");
    } else if (format == "PFM") {
        put_text(b, "PF\n" + std::to_string(width) + " " + std::to_string(height) + "\n-1.0\n");
    } else if (format == "Sun raster") {  // magic, width, height, depth, length, type, maptype, maplength
        for (uint32_t v : {0x59A66A95u, width, height, 24u, 0u, 1u, 0u, 0u}) put_be32(b, v);
    } else if (format == "Radiance HDR") {
        put_text(b, "#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y " + std::to_string(height) + " +X " +
                        std::to_string(width) + "\n");
    } else if (format == "OpenEXR") {  // magic, version 2, one attribute, end of header
        b = {0x76, 0x2F, 0x31, 0x01, 2, 0, 0, 0};
        put_text(b, std::string("dataWindow\0box2i\0", 17));
        put_le32(b, 16);
        for (uint32_t v : {0u, 0u, width - 1, height - 1}) put_le32(b, v);
        b.push_back(0);
    } else if (format == "J2K") {
        b = j2k_header(width, height);
    } else if (format == "JP2") {  // signature, ftyp, jp2h/ihdr saying 64x64, then the real codestream
        constexpr uint32_t kSmall = 64;
        b = {0, 0, 0, 12, 'j', 'P', ' ', ' ', '\r', '\n', 0x87, '\n'};
        Bytes ftyp;
        put_text(ftyp, "jp2 ");
        put_be32(ftyp, 0);
        put_text(ftyp, "jp2 ");
        put_box(b, "ftyp", ftyp);
        Bytes ihdr;
        put_be32(ihdr, kSmall);
        put_be32(ihdr, kSmall);
        put_be16(ihdr, 3);
        ihdr.insert(ihdr.end(), {7, 7, 0, 0});
        Bytes jp2h;
        put_box(jp2h, "ihdr", ihdr);
        put_box(b, "jp2h", jp2h);
        put_box(b, "jp2c", j2k_header(width, height));
    } else {
        throw std::invalid_argument("bomb_header: unknown format " + format);
    }
    return b;
}

}  // namespace mnet::test
