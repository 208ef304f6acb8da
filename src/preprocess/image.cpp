// SPDX-License-Identifier: Apache-2.0
// Image decoding and the canonical preprocessing (testdata/reference/README.md, "Canonical preprocessing").
// The reference runs cv2.imread(path, IMREAD_COLOR) in OpenCV 4.6; we read the file ourselves (so a missing or
// unreadable file gets a clear message) and decode upright 1- or 3-component JPEGs with libjpeg and PNGs without
// EXIF with libpng as OpenCV does (jpeg_decode.h, png_decode.h), everything else with cv::imdecode and the same
// flag, loaded on first use (opencv_codecs.h):
// the same decoders and the same EXIF orientation step, and the reference tests check the results are identical.
#include "mnet/image.h"

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
#include <utility>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>  // the IMREAD_* flags only: the library is loaded on first use
#include <opencv2/imgproc.hpp>

#include "core/checked.h"
#include "core/file_io.h"
#include "mnet/error.h"
#include "preprocess/decode_gate.h"
#include "preprocess/decoder_messages.h"
#include "preprocess/image_header.h"
#include "preprocess/jpeg_decode.h"
#include "preprocess/opencv_codecs.h"
#include "preprocess/png_decode.h"

namespace mnet {
namespace {

constexpr int kChannels = 3;  // IMREAD_COLOR always yields BGR
// Progressive JPEGs from common encoders have about 10 scans; libjpeg re-reads every coefficient per scan.
constexpr size_t kMaxJpegScans = 1000;

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

// PFM holds float samples, by convention in [0, 1]. IMREAD_COLOR cuts them to 8 bits unscaled (0 or 1: a
// near-black image that still classifies, confidently wrong), so PFM alone is decoded as float and scaled by 255
// (rounded, saturated). Radiance HDR and OpenEXR hold unbounded radiance with no agreed white and stay as
// IMREAD_COLOR makes them.
cv::Mat decode_pfm(const cv::Mat& buffer) {
    constexpr double kUnitToByte = 255.0;
    const cv::Mat wide = opencv_imdecode(buffer, cv::IMREAD_COLOR | cv::IMREAD_ANYDEPTH);
    if (wide.empty() || wide.depth() != CV_32F) return wide;
    cv::Mat bytes;
    wide.convertTo(bytes, CV_8U, kUnitToByte);
    return bytes;
}

// Holds a DecodeGate (if any) from enter() until it is destroyed: declared before the cv::Mat it guards, so
// leave() comes after the decoded pixels are freed, on every path.
class GatePass {
public:
    explicit GatePass(DecodeGate* gate) : gate_(gate) {}
    ~GatePass() {
        if (entered_) gate_->leave(pixels_);
    }
    GatePass(const GatePass&) = delete;
    GatePass& operator=(const GatePass&) = delete;

    void enter(int64_t pixels) {
        if (gate_ == nullptr) return;
        gate_->enter(pixels);
        pixels_ = pixels;
        entered_ = true;
    }

private:
    DecodeGate* gate_;
    int64_t pixels_ = 0;
    bool entered_ = false;
};

// `jpeg_scaled_for`: decode_jpeg's `scaled_for` (JpegDecoding::DctScaled), null for the exact decoding.
cv::Mat decode(const uint8_t* data, size_t size, const std::string& name, const ImageLimits& limits,
               GatePass& pass, const Preprocess* jpeg_scaled_for) {
    if (size == 0) throw_decode_error(name, "empty file");
    if (size > static_cast<uint64_t>(limits.max_file_bytes) || size > static_cast<size_t>(INT_MAX)) {
        throw Error(ErrorCode::Io, name + ": image file too large (" + std::to_string(size) +
                                       " bytes, the limit is " + std::to_string(limits.max_file_bytes) + ")");
    }
    // Nothing reaches a decoder before its declared size is checked: data in no format we can size is refused
    // here (OpenCV would find no decoder for it either), and so is a known format whose header gives no size.
    const ImageHeader header = read_image_header(data, size);
    if (header.format == nullptr) {
        throw_decode_error(name, "unknown format or corrupt data, starting with \"" + printable_prefix(data, size) +
                                     "\"");
    }
    const std::string format = header.format;
    // DICOM would go to GDCM, a large parser of medical formats that mnet has no use for: not exposed.
    if (format == "DICOM") throw_decode_error(name, "DICOM files are not supported");
    if (header.sizes.empty()) throw_decode_error(name, "corrupt or truncated " + format + " header: no image size");
    int64_t declared_pixels = 0;
    for (const DeclaredSize& s : header.sizes) {
        check_pixels(name, s.width, s.height, limits);
        declared_pixels = std::max(declared_pixels, s.width * s.height);  // within max_pixels: no overflow
    }
    if (format == "JPEG") {
        // libjpeg decodes a truncated file as far as it goes and pads the rest, and OpenCV 4.6 reports no
        // error; the README gives such files no reference, so we refuse them. This also refuses the rare
        // complete JPEG written without its final EOI marker.
        const JpegScans scans = jpeg_scans(data, size);
        if (scans.scans == 0) throw_decode_error(name, "truncated or corrupt JPEG: no image data");
        if (!scans.has_eoi) throw_decode_error(name, "truncated JPEG: no end-of-image marker");
        // Each progressive scan makes libjpeg pass over the whole image again: thousands of tiny scans are a
        // CPU bomb that no encoder writes (they use about 10).
        if (scans.scans > kMaxJpegScans) {
            throw_decode_error(name, "JPEG with " + std::to_string(scans.scans) + " scans, the limit is " +
                                         std::to_string(kMaxJpegScans));
        }
    }

    pass.enter(declared_pixels);
    // imdecode only reads the buffer; the Mat header just needs a non-const pointer.
    const cv::Mat buffer(1, static_cast<int>(size), CV_8UC1, const_cast<uint8_t*>(data));
    cv::Mat image;
    std::string decoder_says;
    {
        // libpng and libjpeg print to stderr as they go; caught here, their last line explains a failure.
        const DecoderMessages messages;
        try {
            std::optional<cv::Mat> own = format == "JPEG"  ? decode_jpeg(data, size, jpeg_scaled_for)
                                         : format == "PNG" ? decode_png(data, size)
                                                           : std::nullopt;
            if (own) {
                image = std::move(*own);
            } else {
                image = format == "PFM" ? decode_pfm(buffer) : opencv_imdecode(buffer, cv::IMREAD_COLOR);
            }
        } catch (const cv::Exception& e) {
            throw_decode_error(name, "OpenCV: " + e.err);
        }
        decoder_says = messages.last_line();
    }
    if (image.empty()) {
        throw_decode_error(name, "corrupt or truncated " + format + (decoder_says.empty() ? "" : "; " + decoder_says));
    }
    // Again after decoding, should a decoder size the image otherwise than the header we read.
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

std::vector<uint8_t> read_file(const std::string& path, const ImageLimits& limits) {
    // Images are not remembered as inputs (there can be millions): the commands that read them check their
    // outputs against their lists (io::refuse_overwriting_input).
    return io::read_regular_bytes(path, static_cast<uint64_t>(limits.max_file_bytes), "image file", ErrorCode::Io,
                                  false);
}

// preprocess_bytes, through `gate` around the decoding unless it is null.
void preprocess_gated(const uint8_t* data, size_t size, const Preprocess& pp, float* dst,
                      const std::string& name_for_errors, const ImageLimits& limits, DecodeGate* gate,
                      JpegDecoding jpeg = JpegDecoding::Exact) {
    check_arguments(pp, limits);
    if (dst == nullptr) throw Error(ErrorCode::InvalidArgument, "preprocess: null destination");
    GatePass pass(gate);
    const cv::Mat image =
        decode(data, size, name_for_errors, limits, pass, jpeg == JpegDecoding::DctScaled ? &pp : nullptr);
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

// preprocess_file, through `gate` unless it is null.
void preprocess_path(const std::string& path, const Preprocess& pp, float* dst, const ImageLimits& limits,
                     DecodeGate* gate, JpegDecoding jpeg = JpegDecoding::Exact) {
    check_arguments(pp, limits);  // fail fast, before reading the file
    const std::vector<uint8_t> bytes = read_file(path, limits);
    preprocess_gated(bytes.data(), bytes.size(), pp, dst, path, limits, gate, jpeg);
}

}  // namespace

void preprocess_bytes(const uint8_t* data, size_t size, const Preprocess& pp, float* dst,
                      const std::string& name_for_errors, const ImageLimits& limits) {
    preprocess_gated(data, size, pp, dst, name_for_errors, limits, nullptr);
}

void preprocess_file(const std::string& path, const Preprocess& pp, float* dst, const ImageLimits& limits) {
    preprocess_path(path, pp, dst, limits, nullptr);
}

void preprocess_file(const std::string& path, const Preprocess& pp, float* dst, const ImageLimits& limits,
                     DecodeGate& gate, JpegDecoding jpeg) {
    preprocess_path(path, pp, dst, limits, &gate, jpeg);
}

Tensor load_image(const std::string& path, const Preprocess& pp, const ImageLimits& limits) {
    check_arguments(pp, limits);  // before sizing the tensor from pp
    Tensor tensor({1, kChannels, pp.height, pp.width});
    preprocess_file(path, pp, tensor.data.data(), limits);
    return tensor;
}

Tensor decode_image(const uint8_t* data, size_t size, const Preprocess& pp, const std::string& name_for_errors,
                    const ImageLimits& limits) {
    check_arguments(pp, limits);
    Tensor tensor({1, kChannels, pp.height, pp.width});
    preprocess_bytes(data, size, pp, tensor.data.data(), name_for_errors, limits);
    return tensor;
}

}  // namespace mnet
