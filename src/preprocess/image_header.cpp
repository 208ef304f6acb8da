// SPDX-License-Identifier: Apache-2.0
// Header sniffing for every format Debian's OpenCV 4.6 decodes (its imgcodecs decoder list: BMP, Radiance HDR,
// JPEG, WebP, OpenEXR, JPEG 2000 via OpenJPEG, Sun raster, PNM/PAM, PFM, TIFF, PNG, DICOM via GDCM). The
// signature tests are the decoders' own checkSignature rules, so data one of them would take is never
// "unknown" here, and every such format gets its declared size read before anything is decoded.
#include "preprocess/image_header.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

namespace mnet {
namespace {

class ByteView {
public:
    ByteView(const uint8_t* data, size_t size) : data_(data), size_(size) {}
    size_t size() const { return size_; }
    // Overflow-safe: pos and n may be any values read from the file.
    bool has(uint64_t pos, uint64_t n) const { return pos <= size_ && n <= size_ - pos; }
    bool starts_with(size_t pos, const char* text) const { return matches(pos, text, std::strlen(text)); }
    bool matches(size_t pos, const char* bytes, size_t n) const {
        return has(pos, n) && std::memcmp(data_ + pos, bytes, n) == 0;
    }
    uint8_t u8(size_t pos) const { return data_[pos]; }
    uint32_t be16(size_t pos) const { return uint32_t{data_[pos]} << 8 | data_[pos + 1]; }
    uint32_t le16(size_t pos) const { return uint32_t{data_[pos + 1]} << 8 | data_[pos]; }
    uint32_t le24(size_t pos) const { return le16(pos) | uint32_t{data_[pos + 2]} << 16; }
    uint32_t be32(size_t pos) const { return be16(pos) << 16 | be16(pos + 2); }
    uint32_t le32(size_t pos) const { return le16(pos + 2) << 16 | le16(pos); }
    uint64_t be64(size_t pos) const { return uint64_t{be32(pos)} << 32 | be32(pos + 4); }
    uint64_t le64(size_t pos) const { return uint64_t{le32(pos + 4)} << 32 | le32(pos); }
    const uint8_t* data() const { return data_; }

private:
    const uint8_t* data_;
    size_t size_;
};

using Size = std::optional<DeclaredSize>;

// PNG: the IHDR chunk must come first (PNG spec 5.6), width and height as big-endian u32.
Size png_size(const ByteView& b) {
    if (!b.has(0, 24) || !b.starts_with(12, "IHDR")) return std::nullopt;
    return DeclaredSize{b.be32(16), b.be32(20)};
}

// JPEG markers (ITU T.81 table B.1).
constexpr uint8_t kJpegSos = 0xDA;
constexpr uint8_t kJpegEoi = 0xD9;

bool is_jpeg_sof(uint8_t marker) {
    // SOF0..SOF15 are 0xC0..0xCF except DHT (C4), JPG (C8) and DAC (CC).
    return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

struct JpegLayout {
    Size size;
    size_t scan_start = 0;  // just past the first SOS header; 0 if none was found
};

// Walks the marker segments up to the first start-of-scan. Segment contents (EXIF thumbnails included) are
// skipped by their lengths, so an embedded JPEG's markers are never mistaken for ours.
JpegLayout jpeg_layout(const ByteView& b) {
    JpegLayout out;
    size_t pos = 2;  // after SOI
    while (b.has(pos, 2)) {
        if (b.u8(pos) != 0xFF) return out;
        const uint8_t marker = b.u8(pos + 1);
        if (marker == 0xFF) {  // fill byte before a marker
            ++pos;
            continue;
        }
        pos += 2;
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // TEM, RSTn: no length
        if (marker == kJpegEoi || !b.has(pos, 2)) return out;
        const size_t length = b.be16(pos);  // counts itself
        if (length < 2 || !b.has(pos, length)) return out;
        // SOFn: length(2) precision(1) height(2) width(2)
        if (is_jpeg_sof(marker) && length >= 7) out.size = DeclaredSize{b.be16(pos + 5), b.be16(pos + 3)};
        pos += length;
        if (marker == kJpegSos) {
            out.scan_start = pos;
            return out;
        }
    }
    return out;
}

// BMP: BITMAPCOREHEADER (12 bytes, u16 sizes) or BITMAPINFOHEADER and later (i32 sizes; negative height means
// top-down rows).
Size bmp_size(const ByteView& b) {
    constexpr uint32_t kCoreHeaderSize = 12;
    constexpr uint32_t kInfoHeaderSize = 40;
    if (!b.has(0, 26)) return std::nullopt;
    const uint32_t header_size = b.le32(14);
    if (header_size == kCoreHeaderSize) return DeclaredSize{b.le16(18), b.le16(20)};
    if (header_size < kInfoHeaderSize) return std::nullopt;
    const int64_t width = static_cast<int32_t>(b.le32(18));
    const int64_t height = static_cast<int32_t>(b.le32(22));
    return DeclaredSize{width < 0 ? -width : width, height < 0 ? -height : height};
}

// WebP (RIFF container): lossy "VP8 " (RFC 6386 9.1 frame header), lossless "VP8L" (14-bit sizes minus one),
// extended "VP8X" (24-bit canvas sizes minus one).
Size webp_size(const ByteView& b) {
    constexpr uint32_t k14Bits = 0x3FFF;
    constexpr uint8_t kLosslessSignature = 0x2F;
    if (b.starts_with(12, "VP8 ") && b.has(20, 10) && b.u8(23) == 0x9D && b.u8(24) == 0x01 && b.u8(25) == 0x2A)
        return DeclaredSize{b.le16(26) & k14Bits, b.le16(28) & k14Bits};
    if (b.starts_with(12, "VP8L") && b.has(20, 5) && b.u8(20) == kLosslessSignature) {
        const uint32_t bits = b.le32(21);
        return DeclaredSize{(bits & k14Bits) + 1, ((bits >> 14) & k14Bits) + 1};
    }
    if (b.starts_with(12, "VP8X") && b.has(20, 10)) return DeclaredSize{b.le24(24) + int64_t{1}, b.le24(27) + int64_t{1}};
    return std::nullopt;
}

// TIFF and BigTIFF: ImageWidth (256) and ImageLength (257) in the first IFD, which is the page OpenCV decodes.
// Classic entries are 12 bytes with a u16 count of them; BigTIFF entries are 20 bytes with a u64 count.
Size tiff_size(const ByteView& b) {
    constexpr uint32_t kTagWidth = 256, kTagHeight = 257;
    constexpr uint32_t kTypeShort = 3, kTypeLong = 4, kTypeLong8 = 16;
    if (!b.has(0, 16)) return std::nullopt;
    const bool le = b.u8(0) == 'I';
    const bool big = (le ? b.le16(2) : b.be16(2)) == 43;
    auto u16 = [&](uint64_t pos) { return le ? b.le16(pos) : b.be16(pos); };
    auto u32 = [&](uint64_t pos) { return le ? b.le32(pos) : b.be32(pos); };
    auto u64 = [&](uint64_t pos) { return le ? b.le64(pos) : b.be64(pos); };
    const uint64_t ifd = big ? u64(8) : u32(4);
    const uint64_t count_size = big ? 8 : 2, entry_size = big ? 20 : 12, value_at = big ? 12 : 8;
    if (!b.has(ifd, count_size)) return std::nullopt;
    const uint64_t count = big ? u64(ifd) : u16(ifd);
    std::optional<int64_t> width, height;
    for (uint64_t i = 0; i < count; ++i) {
        const uint64_t entry = ifd + count_size + i * entry_size;  // no overflow: entry is checked to be in the file
        if (!b.has(entry, entry_size)) break;
        const uint32_t tag = u16(entry), type = u16(entry + 2);
        std::optional<int64_t> value;
        if (type == kTypeShort) value = u16(entry + value_at);
        if (type == kTypeLong) value = u32(entry + value_at);
        if (type == kTypeLong8 && big) {
            const uint64_t v = u64(entry + value_at);
            value = static_cast<int64_t>(std::min<uint64_t>(v, INT64_MAX));  // still "too large", never negative
        }
        if (tag == kTagWidth && value) width = value;
        if (tag == kTagHeight && value) height = value;
    }
    if (!width || !height) return std::nullopt;
    return DeclaredSize{*width, *height};
}

// A run of whitespace and '#' comments, then a decimal number (PNM, PFM and PAM headers).
std::optional<int64_t> read_header_number(const ByteView& b, size_t& pos) {
    constexpr int kMaxDigits = 12;  // keeps the value far from int64 overflow
    while (b.has(pos, 1)) {
        const uint8_t c = b.u8(pos);
        if (c == '#') {
            while (b.has(pos, 1) && b.u8(pos) != '\n' && b.u8(pos) != '\r') ++pos;
        } else if (std::isspace(c)) {
            ++pos;
        } else {
            break;
        }
    }
    int64_t value = 0;
    int digits = 0;
    while (b.has(pos, 1) && b.u8(pos) >= '0' && b.u8(pos) <= '9' && digits < kMaxDigits) {
        value = value * 10 + (b.u8(pos) - '0');
        ++pos;
        ++digits;
    }
    if (digits == 0) return std::nullopt;
    return value;
}

// PNM (P1..P6) and PFM (PF, Pf): magic, then width and height as decimal.
Size pnm_size(const ByteView& b) {
    size_t pos = 2;
    const auto width = read_header_number(b, pos);
    const auto height = width ? read_header_number(b, pos) : std::nullopt;
    if (!width || !height) return std::nullopt;
    return DeclaredSize{*width, *height};
}

// PAM (P7): "KEYWORD value" lines up to ENDHDR; WIDTH and HEIGHT are the size.
Size pam_size(const ByteView& b) {
    constexpr size_t kMaxHeader = 4096;  // a real header is a few short lines
    std::optional<int64_t> width, height;
    size_t pos = 2;
    while (b.has(pos, 1) && pos < kMaxHeader) {
        while (b.has(pos, 1) && std::isspace(b.u8(pos))) ++pos;
        size_t end = pos;
        while (b.has(end, 1) && !std::isspace(b.u8(end))) ++end;
        const std::string word(reinterpret_cast<const char*>(b.data()) + pos, end - pos);
        pos = end;
        if (word.empty() || word == "ENDHDR") break;
        if (word[0] == '#') {
            while (b.has(pos, 1) && b.u8(pos) != '\n') ++pos;
        } else if (word == "WIDTH") {
            width = read_header_number(b, pos);
        } else if (word == "HEIGHT") {
            height = read_header_number(b, pos);
        }
    }
    if (!width || !height) return std::nullopt;
    return DeclaredSize{*width, *height};
}

// Sun raster: eight big-endian u32 (magic, width, height, depth, ...).
Size sun_raster_size(const ByteView& b) {
    if (!b.has(0, 12)) return std::nullopt;
    return DeclaredSize{b.be32(4), b.be32(8)};
}

// Radiance HDR: text lines up to an empty one, then the resolution line, e.g. "-Y 480 +X 640" (height first)
// or "+X 640 -Y 480".
Size hdr_size(const ByteView& b) {
    const char* begin = reinterpret_cast<const char*>(b.data());
    const std::string head(begin, std::min<size_t>(b.size(), 65536));
    const size_t blank = head.find("\n\n");
    if (blank == std::string::npos) return std::nullopt;
    size_t pos = blank + 2;
    int64_t values[2] = {0, 0};
    char axes[2] = {0, 0};
    for (int i = 0; i < 2; ++i) {
        while (b.has(pos, 1) && b.u8(pos) == ' ') ++pos;
        if (!b.has(pos, 3) || (b.u8(pos) != '+' && b.u8(pos) != '-')) return std::nullopt;
        axes[i] = static_cast<char>(b.u8(pos + 1));
        pos += 2;
        const auto value = read_header_number(b, pos);
        if (!value) return std::nullopt;
        values[i] = *value;
    }
    if (axes[0] == 'Y' && axes[1] == 'X') return DeclaredSize{values[1], values[0]};
    if (axes[0] == 'X' && axes[1] == 'Y') return DeclaredSize{values[0], values[1]};
    return std::nullopt;
}

// OpenEXR: after magic and version, attributes "name\0type\0" u32 size, value, ended by an empty name. OpenCV's
// decoder sizes the image from dataWindow (box2i: xMin, yMin, xMax, yMax as i32).
Size exr_size(const ByteView& b) {
    constexpr size_t kBox2iSize = 16;
    size_t pos = 8;
    for (;;) {
        if (!b.has(pos, 1)) return std::nullopt;
        const uint8_t* start = b.data() + pos;
        const auto* name_end = static_cast<const uint8_t*>(std::memchr(start, 0, b.size() - pos));
        if (name_end == nullptr || name_end == start) return std::nullopt;  // cut short, or the end of the header
        const std::string name(reinterpret_cast<const char*>(start), static_cast<size_t>(name_end - start));
        pos += name.size() + 1;
        if (!b.has(pos, 1)) return std::nullopt;
        const auto* type_end = static_cast<const uint8_t*>(std::memchr(b.data() + pos, 0, b.size() - pos));
        if (type_end == nullptr) return std::nullopt;
        const std::string type(reinterpret_cast<const char*>(b.data() + pos), static_cast<size_t>(type_end - (b.data() + pos)));
        pos += type.size() + 1;
        if (!b.has(pos, 4)) return std::nullopt;
        const uint32_t size = b.le32(pos);
        pos += 4;
        if (!b.has(pos, size)) return std::nullopt;
        if (name == "dataWindow" && type == "box2i" && size == kBox2iSize) {
            const int64_t x_min = static_cast<int32_t>(b.le32(pos)), y_min = static_cast<int32_t>(b.le32(pos + 4));
            const int64_t x_max = static_cast<int32_t>(b.le32(pos + 8)), y_max = static_cast<int32_t>(b.le32(pos + 12));
            if (x_max < x_min || y_max < y_min) return std::nullopt;
            return DeclaredSize{x_max - x_min + 1, y_max - y_min + 1};
        }
        pos += size;
    }
}

// JPEG 2000 codestream (ITU T.800 A.5.1): SOC, SIZ marker, Lsiz, Rsiz, then Xsiz, Ysiz, XOsiz, YOsiz as u32; the
// image area is (Xsiz - XOsiz) x (Ysiz - YOsiz).
Size j2k_size(const ByteView& b, size_t pos) {
    if (!b.has(pos, 24) || b.be16(pos) != 0xFF4F || b.be16(pos + 2) != 0xFF51) return std::nullopt;
    const int64_t x = b.be32(pos + 8), y = b.be32(pos + 12), x0 = b.be32(pos + 16), y0 = b.be32(pos + 20);
    if (x0 > x || y0 > y) return std::nullopt;
    return DeclaredSize{x - x0, y - y0};
}

// JP2 (ITU T.800 annex I): boxes of u32 length (1: a u64 length follows; 0: to the end), u32 type. The size is
// in jp2h/ihdr (height, width) and again in the codestream box jp2c; both are returned. Only the top level and
// jp2h are walked, so nested boxes cannot recurse without bound.
std::vector<DeclaredSize> jp2_sizes(const ByteView& b) {
    std::vector<DeclaredSize> sizes;
    auto walk = [&](size_t pos, size_t end, bool top, auto& self) -> void {
        while (pos + 8 <= end) {
            uint64_t length = b.be32(pos);
            const size_t type_at = pos + 4;
            size_t header = 8;
            if (length == 1) {
                if (!b.has(pos, 16)) return;
                length = b.be64(pos + 8);
                header = 16;
            } else if (length == 0) {
                length = end - pos;
            }
            if (length < header || !b.has(pos, length) || pos + length > end) return;
            if (top && b.starts_with(type_at, "jp2h")) self(pos + header, pos + length, false, self);
            if (b.starts_with(type_at, "ihdr") && length >= header + 8) {
                sizes.push_back(DeclaredSize{b.be32(pos + header + 4), b.be32(pos + header)});
            }
            if (b.starts_with(type_at, "jp2c")) {
                if (const Size s = j2k_size(b, pos + header)) sizes.push_back(*s);
            }
            pos += length;
        }
    };
    walk(0, b.size(), true, walk);
    return sizes;
}

}  // namespace

ImageHeader read_image_header(const uint8_t* data, size_t size) {
    static const char kPngSignature[] = "\x89PNG\r\n\x1A\n";
    static const char kSunRasterMagic[] = "\x59\xA6\x6A\x95";
    static const char kExrMagic[] = "\x76\x2F\x31\x01";
    static const char kJp2Signature[] = "\x00\x00\x00\x0CjP  \r\n\x87\n";
    static const char kJ2kSignature[] = "\xFF\x4F\xFF\x51";
    constexpr size_t kDicomPrefix = 128;  // DICOM part 10: a 128-byte preamble, then "DICM"
    const ByteView b(data, size);
    ImageHeader h;
    auto one = [&h](const Size& s) {
        if (s) h.sizes.push_back(*s);
    };
    const bool pnm_space = b.has(0, 3) && std::isspace(b.u8(2));
    if (b.matches(0, kPngSignature, 8)) {
        h.format = "PNG";
        one(png_size(b));
    } else if (b.has(0, 3) && b.u8(0) == 0xFF && b.u8(1) == 0xD8 && b.u8(2) == 0xFF) {
        h.format = "JPEG";
        one(jpeg_layout(b).size);
    } else if (b.starts_with(0, "BM")) {
        h.format = "BMP";
        one(bmp_size(b));
    } else if (b.starts_with(0, "RIFF") && b.starts_with(8, "WEBP")) {
        h.format = "WebP";
        one(webp_size(b));
    } else if (b.matches(0, "II\x2A\x00", 4) || b.matches(0, "MM\x00\x2A", 4) || b.matches(0, "II\x2B\x00", 4) ||
               b.matches(0, "MM\x00\x2B", 4)) {
        h.format = "TIFF";
        one(tiff_size(b));
    } else if (pnm_space && b.u8(0) == 'P' && b.u8(1) >= '1' && b.u8(1) <= '6') {
        h.format = "PNM";
        one(pnm_size(b));
    } else if (pnm_space && b.u8(0) == 'P' && (b.u8(1) == 'F' || b.u8(1) == 'f')) {
        h.format = "PFM";
        one(pnm_size(b));
    } else if (pnm_space && b.u8(0) == 'P' && b.u8(1) == '7') {
        h.format = "PAM";
        one(pam_size(b));
    } else if (b.matches(0, kSunRasterMagic, 4)) {
        h.format = "Sun raster";
        one(sun_raster_size(b));
    } else if (b.starts_with(0, "#?RGBE") || b.starts_with(0, "#?RADIANCE")) {
        h.format = "Radiance HDR";
        one(hdr_size(b));
    } else if (b.matches(0, kExrMagic, 4)) {
        h.format = "OpenEXR";
        one(exr_size(b));
    } else if (b.matches(0, kJp2Signature, 12)) {
        h.format = "JPEG 2000";
        h.sizes = jp2_sizes(b);
    } else if (b.matches(0, kJ2kSignature, 4)) {
        h.format = "JPEG 2000";
        one(j2k_size(b, 0));
    } else if (b.starts_with(kDicomPrefix, "DICM")) {
        h.format = "DICOM";
    }
    return h;
}

JpegScans jpeg_scans(const uint8_t* data, size_t size) {
    const ByteView b(data, size);
    JpegScans out;
    const size_t scan_start = jpeg_layout(b).scan_start;
    if (scan_start == 0) return out;
    out.scans = 1;
    // Entropy-coded data never holds 0xFF followed by anything but 0x00 (a stuffed byte), RSTn or a fill byte,
    // so every other 0xFF xx here is a marker: later scans (progressive JPEG) and tables between them.
    const uint8_t* p = data + scan_start;
    const uint8_t* end = data + size;
    while (p < end) {
        p = static_cast<const uint8_t*>(std::memchr(p, 0xFF, static_cast<size_t>(end - p)));
        if (p == nullptr || p + 1 >= end) return out;
        if (p[1] == kJpegEoi) {
            out.has_eoi = true;
            return out;
        }
        if (p[1] == kJpegSos) ++out.scans;
        ++p;
    }
    return out;
}

}  // namespace mnet
