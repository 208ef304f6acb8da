// SPDX-License-Identifier: Apache-2.0
// Image decoding and the canonical preprocessing (testdata/reference/README.md, "Canonical preprocessing").
// The reference runs cv2.imread(path, IMREAD_COLOR) in OpenCV 4.6; we read the file ourselves (so a missing or
// unreadable file gets a clear message) and call cv::imdecode with the same flag: both go through the same
// decoder and the same EXIF orientation step, and the reference tests check the results are identical.
#include "preprocess/image.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <system_error>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/checked.h"
#include "mnet/error.h"

namespace mnet {
namespace {

constexpr int kChannels = 3;  // IMREAD_COLOR always yields BGR

// ---- Declared image size, read from the file header so a decompression bomb is refused before decoding ----

struct DeclaredSize {
    int64_t width = 0;
    int64_t height = 0;
};

// What the header sniffing learnt: the format (nullptr when not recognised) and, if found, the declared size.
struct HeaderInfo {
    const char* format = nullptr;
    std::optional<DeclaredSize> size;
};

class ByteView {
public:
    ByteView(const uint8_t* data, size_t size) : data_(data), size_(size) {}
    size_t size() const { return size_; }
    bool has(size_t pos, size_t n) const { return pos <= size_ && n <= size_ - pos; }
    bool starts_with(size_t pos, const char* text) const {
        size_t n = std::strlen(text);
        return has(pos, n) && std::memcmp(data_ + pos, text, n) == 0;
    }
    uint8_t u8(size_t pos) const { return data_[pos]; }
    uint32_t be16(size_t pos) const { return uint32_t{data_[pos]} << 8 | data_[pos + 1]; }
    uint32_t le16(size_t pos) const { return uint32_t{data_[pos + 1]} << 8 | data_[pos]; }
    uint32_t le24(size_t pos) const { return le16(pos) | uint32_t{data_[pos + 2]} << 16; }
    uint32_t be32(size_t pos) const { return be16(pos) << 16 | be16(pos + 2); }
    uint32_t le32(size_t pos) const { return le16(pos + 2) << 16 | le16(pos); }
    const uint8_t* data() const { return data_; }

private:
    const uint8_t* data_;
    size_t size_;
};

// PNG: the IHDR chunk must come first (PNG spec 5.6), width and height as big-endian u32.
std::optional<DeclaredSize> png_size(const ByteView& b) {
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
    std::optional<DeclaredSize> size;
    size_t scan_start = 0;  // just past the first SOS header; 0 if none was found
};

// Walks the marker segments up to the first start-of-scan. Segment contents (EXIF thumbnails included) are
// skipped by their lengths, so an embedded JPEG's markers are never mistaken for ours.
JpegLayout jpeg_layout(const ByteView& b) {
    JpegLayout out;
    size_t pos = 2;  // after SOI
    while (b.has(pos, 2)) {
        if (b.u8(pos) != 0xFF) return out;
        uint8_t marker = b.u8(pos + 1);
        if (marker == 0xFF) {  // fill byte before a marker
            ++pos;
            continue;
        }
        pos += 2;
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // TEM, RSTn: no length
        if (marker == kJpegEoi || !b.has(pos, 2)) return out;
        size_t length = b.be16(pos);  // counts itself
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

// True if an EOI marker follows the scan data. Entropy-coded data never holds 0xFF 0xD9 (0xFF is stuffed as
// 0xFF 0x00), so its absence means the file was cut short.
bool jpeg_has_eoi(const ByteView& b, size_t scan_start) {
    const uint8_t* p = b.data() + scan_start;
    const uint8_t* end = b.data() + b.size();
    while (p < end) {
        p = static_cast<const uint8_t*>(std::memchr(p, 0xFF, static_cast<size_t>(end - p)));
        if (p == nullptr || p + 1 >= end) return false;
        if (p[1] == kJpegEoi) return true;
        ++p;
    }
    return false;
}

// BMP: BITMAPCOREHEADER (12 bytes, u16 sizes) or BITMAPINFOHEADER and later (i32 sizes; negative height means
// top-down rows).
std::optional<DeclaredSize> bmp_size(const ByteView& b) {
    constexpr uint32_t kCoreHeaderSize = 12;
    constexpr uint32_t kInfoHeaderSize = 40;
    if (!b.has(0, 26)) return std::nullopt;
    uint32_t header_size = b.le32(14);
    if (header_size == kCoreHeaderSize) return DeclaredSize{b.le16(18), b.le16(20)};
    if (header_size < kInfoHeaderSize) return std::nullopt;
    int64_t width = static_cast<int32_t>(b.le32(18));
    int64_t height = static_cast<int32_t>(b.le32(22));
    return DeclaredSize{std::llabs(width), std::llabs(height)};
}

// WebP (RIFF container): lossy "VP8 " (RFC 6386 9.1 frame header), lossless "VP8L" (14-bit sizes minus one),
// extended "VP8X" (24-bit canvas sizes minus one).
std::optional<DeclaredSize> webp_size(const ByteView& b) {
    constexpr uint32_t k14Bits = 0x3FFF;
    constexpr uint8_t kLosslessSignature = 0x2F;
    if (b.starts_with(12, "VP8 ") && b.has(20, 10) && b.u8(23) == 0x9D && b.u8(24) == 0x01 && b.u8(25) == 0x2A)
        return DeclaredSize{b.le16(26) & k14Bits, b.le16(28) & k14Bits};
    if (b.starts_with(12, "VP8L") && b.has(20, 5) && b.u8(20) == kLosslessSignature) {
        uint32_t bits = b.le32(21);
        return DeclaredSize{(bits & k14Bits) + 1, ((bits >> 14) & k14Bits) + 1};
    }
    if (b.starts_with(12, "VP8X") && b.has(20, 10)) return DeclaredSize{b.le24(24) + int64_t{1}, b.le24(27) + int64_t{1}};
    return std::nullopt;
}

// TIFF: ImageWidth (256) and ImageLength (257) in the first IFD, which is the page OpenCV decodes.
std::optional<DeclaredSize> tiff_size(const ByteView& b) {
    constexpr uint32_t kTagWidth = 256, kTagHeight = 257, kTypeShort = 3, kTypeLong = 4, kEntrySize = 12;
    const bool le = b.u8(0) == 'I';
    auto u16 = [&](size_t pos) { return le ? b.le16(pos) : b.be16(pos); };
    auto u32 = [&](size_t pos) { return le ? b.le32(pos) : b.be32(pos); };
    if (!b.has(0, 8)) return std::nullopt;
    size_t ifd = u32(4);
    if (!b.has(ifd, 2)) return std::nullopt;
    std::optional<int64_t> width, height;
    const uint32_t count = u16(ifd);
    for (uint32_t i = 0; i < count; ++i) {
        size_t entry = ifd + 2 + size_t{i} * kEntrySize;
        if (!b.has(entry, kEntrySize)) break;
        uint32_t tag = u16(entry), type = u16(entry + 2);
        if (type != kTypeShort && type != kTypeLong) continue;
        int64_t value = type == kTypeShort ? u16(entry + 8) : u32(entry + 8);
        if (tag == kTagWidth) width = value;
        if (tag == kTagHeight) height = value;
    }
    if (!width || !height) return std::nullopt;
    return DeclaredSize{*width, *height};
}

// PNM (P1..P6) and PFM (PF, Pf): ASCII magic, then width and height as decimal, '#' comments allowed.
std::optional<DeclaredSize> pnm_size(const ByteView& b) {
    constexpr int kMaxDigits = 12;  // keeps the value far from int64 overflow
    size_t pos = 2;
    auto read_number = [&]() -> std::optional<int64_t> {
        while (b.has(pos, 1)) {
            uint8_t c = b.u8(pos);
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
    };
    auto width = read_number();
    auto height = width ? read_number() : std::nullopt;
    if (!width || !height) return std::nullopt;
    return DeclaredSize{*width, *height};
}

HeaderInfo sniff_header(const ByteView& b) {
    static const uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    HeaderInfo info;
    if (b.has(0, 8) && std::memcmp(b.data(), kPngSignature, 8) == 0) {
        info.format = "PNG";
        info.size = png_size(b);
    } else if (b.has(0, 3) && b.u8(0) == 0xFF && b.u8(1) == 0xD8 && b.u8(2) == 0xFF) {
        info.format = "JPEG";
        info.size = jpeg_layout(b).size;
    } else if (b.starts_with(0, "BM")) {
        info.format = "BMP";
        info.size = bmp_size(b);
    } else if (b.starts_with(0, "RIFF") && b.starts_with(8, "WEBP")) {
        info.format = "WebP";
        info.size = webp_size(b);
    } else if (b.starts_with(0, "II*") || b.starts_with(0, "MM")) {
        if (b.has(0, 4) && (b.u8(2) == 42 || b.u8(3) == 42)) {  // classic TIFF; BigTIFF (43) is left to OpenCV
            info.format = "TIFF";
            info.size = tiff_size(b);
        }
    } else if (b.has(0, 3) && b.u8(0) == 'P' && ((b.u8(1) >= '1' && b.u8(1) <= '6') || b.u8(1) == 'F' ||
                                                  b.u8(1) == 'f') && std::isspace(b.u8(2))) {
        info.format = "PNM";
        info.size = pnm_size(b);
    }
    return info;
}

// ---- Errors ----

[[noreturn]] void throw_decode_error(const std::string& name, const std::string& why) {
    throw Error(ErrorCode::Io, name + ": cannot decode image (" + why + ")");
}

void check_pixels(const std::string& name, int64_t width, int64_t height, const ImageLimits& limits) {
    // Sizes come from the file (up to 2^32 each), so the product can overflow int64.
    const std::optional<int64_t> pixels = checked_mul(width, height);
    if (!pixels || *pixels > limits.max_pixels) {
        throw Error(ErrorCode::Io, name + ": image too large (" + std::to_string(width) + "x" +
                                       std::to_string(height) + " = " +
                                       (pixels ? std::to_string(*pixels) : std::string("over 2^63")) +
                                       " pixels, the limit is " + std::to_string(limits.max_pixels) + ")");
    }
}

// The first bytes of unrecognised data, printable, so "a text file named .jpg" explains itself.
std::string printable_prefix(const uint8_t* data, size_t size) {
    constexpr size_t kShown = 8;
    std::string out;
    for (size_t i = 0; i < size && i < kShown; ++i) {
        out += (data[i] >= 0x20 && data[i] < 0x7F) ? static_cast<char>(data[i]) : '.';
    }
    return out;
}

void check_arguments(const Preprocess& pp, const ImageLimits& limits) {
    auto fail = [](const std::string& what) { throw Error(ErrorCode::InvalidArgument, "preprocess: " + what); };
    if (pp.height <= 0 || pp.width <= 0) {
        fail("input size " + std::to_string(pp.height) + "x" + std::to_string(pp.width) + ", expected > 0");
    }
    if (!(pp.crop > 0.0 && pp.crop <= 1.0)) fail("crop " + std::to_string(pp.crop) + ", expected in (0, 1]");
    for (int c = 0; c < kChannels; ++c) {
        if (!std::isfinite(pp.mean[c]) || !std::isfinite(pp.std[c]) || !(pp.std[c] > 0.0f)) {
            fail("mean/std of channel " + std::to_string(c) + " are " + std::to_string(pp.mean[c]) + "/" +
                 std::to_string(pp.std[c]) + ", expected finite with std > 0");
        }
    }
    if (limits.max_pixels <= 0 || limits.max_file_bytes <= 0) fail("image limits must be > 0");
}

// ---- Decoding and the canonical steps ----

cv::Mat decode(const uint8_t* data, size_t size, const std::string& name, const ImageLimits& limits) {
    if (size == 0) throw_decode_error(name, "empty file");
    if (size > static_cast<uint64_t>(limits.max_file_bytes) || size > static_cast<size_t>(INT_MAX)) {
        throw Error(ErrorCode::Io, name + ": image file too large (" + std::to_string(size) +
                                       " bytes, the limit is " + std::to_string(limits.max_file_bytes) + ")");
    }
    const ByteView bytes(data, size);
    const HeaderInfo header = sniff_header(bytes);
    if (header.size) check_pixels(name, header.size->width, header.size->height, limits);
    if (header.format != nullptr && std::strcmp(header.format, "JPEG") == 0) {
        // libjpeg decodes a truncated file as far as it goes and pads the rest, and OpenCV 4.6 reports no
        // error; the README gives such files no reference, so we refuse them. This also refuses the rare
        // complete JPEG written without its final EOI marker.
        const size_t scan_start = jpeg_layout(bytes).scan_start;
        if (scan_start == 0) throw_decode_error(name, "truncated or corrupt JPEG: no image data");
        if (!jpeg_has_eoi(bytes, scan_start)) throw_decode_error(name, "truncated JPEG: no end-of-image marker");
    }

    // imdecode only reads the buffer; the Mat header just needs a non-const pointer.
    const cv::Mat buffer(1, static_cast<int>(size), CV_8UC1, const_cast<uint8_t*>(data));
    cv::Mat image;
    try {
        image = cv::imdecode(buffer, cv::IMREAD_COLOR);
    } catch (const cv::Exception& e) {
        throw_decode_error(name, "OpenCV: " + e.err);
    }
    if (image.empty()) {
        if (header.format != nullptr) throw_decode_error(name, std::string("corrupt or truncated ") + header.format);
        throw_decode_error(name, "unknown format or corrupt data, starting with \"" + printable_prefix(data, size) +
                                     "\"");
    }
    // Again after decoding: covers the formats whose header we do not parse.
    check_pixels(name, image.cols, image.rows, limits);
    if (image.type() != CV_8UC3) {
        throw Error(ErrorCode::Internal, name + ": OpenCV returned pixel type " + std::to_string(image.type()) +
                                             " for IMREAD_COLOR, expected CV_8UC3");
    }
    return image;
}

// README: ch = int(H * crop) with a double multiply and truncation; the window is centred with floor division.
// A side that would crop to 0 pixels (crop * side < 1: a tiny image) keeps 1 pixel, where the README's Python
// would fail instead.
cv::Rect central_crop(int rows, int cols, double crop) {
    if (crop >= 1.0) return cv::Rect(0, 0, cols, rows);
    int crop_h = std::max(1, static_cast<int>(static_cast<double>(rows) * crop));
    int crop_w = std::max(1, static_cast<int>(static_cast<double>(cols) * crop));
    return cv::Rect((cols - crop_w) / 2, (rows - crop_h) / 2, crop_w, crop_h);
}

// Float32 subtract, then float32 divide: multiplying by 1/std differs in the last bit for some std
// (README: V3-small's std 127). NCHW planes in pp.color order; IMREAD_COLOR pixels are BGR.
void normalize_to_planes(const cv::Mat& image, const Preprocess& pp, float* dst) {
    const size_t plane = static_cast<size_t>(image.rows) * static_cast<size_t>(image.cols);
    for (int c = 0; c < kChannels; ++c) {
        const int src_channel = pp.color == ColorOrder::RGB ? kChannels - 1 - c : c;
        const float mean = pp.mean[c];
        const float std_dev = pp.std[c];
        float* out = dst + static_cast<size_t>(c) * plane;
        for (int y = 0; y < image.rows; ++y) {
            const uint8_t* row = image.ptr<uint8_t>(y);
            for (int x = 0; x < image.cols; ++x) {
                *out++ = (static_cast<float>(row[x * kChannels + src_channel]) - mean) / std_dev;
            }
        }
    }
}

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

class FileDescriptor {
public:
    explicit FileDescriptor(int fd) : fd_(fd) {}
    ~FileDescriptor() {
        if (fd_ >= 0) ::close(fd_);
    }
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

std::vector<uint8_t> read_file(const std::string& path, const ImageLimits& limits) {
    auto fail = [&](const std::string& why) {
        throw Error(ErrorCode::Io, path + ": cannot read image file (" + why + ")");
    };
    const FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) fail(errno_text(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) fail(errno_text(errno));
    if (S_ISDIR(st.st_mode)) fail("it is a directory");
    const auto max_bytes = static_cast<uint64_t>(limits.max_file_bytes);
    auto too_large = [&](uint64_t size) {
        throw Error(ErrorCode::Io, path + ": image file too large (" + std::to_string(size) +
                                       " bytes, the limit is " + std::to_string(max_bytes) + ")");
    };
    std::vector<uint8_t> bytes;
    if (S_ISREG(st.st_mode)) {
        if (static_cast<uint64_t>(st.st_size) > max_bytes) too_large(static_cast<uint64_t>(st.st_size));
        bytes.reserve(static_cast<size_t>(st.st_size));
    }
    // Read to end of file rather than trusting st_size: pipes report 0 and files can change under us.
    constexpr size_t kChunk = size_t{1} << 16;
    uint8_t chunk[kChunk];
    for (;;) {
        ssize_t got = ::read(fd.get(), chunk, kChunk);
        if (got < 0) {
            if (errno == EINTR) continue;
            fail(errno_text(errno));
        }
        if (got == 0) break;
        if (bytes.size() + static_cast<size_t>(got) > max_bytes) too_large(bytes.size() + static_cast<size_t>(got));
        bytes.insert(bytes.end(), chunk, chunk + got);
    }
    return bytes;
}

}  // namespace

void preprocess_bytes(const uint8_t* data, size_t size, const Preprocess& pp, float* dst,
                      const std::string& name_for_errors, const ImageLimits& limits) {
    check_arguments(pp, limits);
    if (dst == nullptr) throw Error(ErrorCode::InvalidArgument, "preprocess: null destination");
    const cv::Mat image = decode(data, size, name_for_errors, limits);
    cv::Mat resized;
    try {
        cv::resize(image(central_crop(image.rows, image.cols, pp.crop)), resized, cv::Size(pp.width, pp.height),
                   0.0, 0.0, cv::INTER_AREA);
    } catch (const cv::Exception& e) {
        throw Error(ErrorCode::Internal, name_for_errors + ": resizing to " + std::to_string(pp.width) + "x" +
                                             std::to_string(pp.height) + " failed (OpenCV: " + e.err + ")");
    }
    normalize_to_planes(resized, pp, dst);
}

void preprocess_file(const std::string& path, const Preprocess& pp, float* dst, const ImageLimits& limits) {
    check_arguments(pp, limits);  // fail fast, before reading the file
    const std::vector<uint8_t> bytes = read_file(path, limits);
    preprocess_bytes(bytes.data(), bytes.size(), pp, dst, path, limits);
}

Tensor load_image(const std::string& path, const Preprocess& pp, const ImageLimits& limits) {
    check_arguments(pp, limits);  // before sizing the tensor from pp
    Tensor tensor({1, kChannels, pp.height, pp.width});
    preprocess_file(path, pp, tensor.data.data(), limits);
    return tensor;
}

}  // namespace mnet
