// SPDX-License-Identifier: Apache-2.0
// The image front end on unusual and hostile files (issue 7): every format OpenCV decodes is sized from its
// header before decoding, bombs and cut headers are refused cleanly, and CMYK/YCCK JPEGs, EXIF orientations,
// grey, 16-bit and alpha images decode to the pixels a viewer shows. Expected pixels come from the source
// image and a plain transcription of the format rules, never from the front end itself.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "mnet/error.h"
#include "mnet/image.h"
#include "preprocess/image_header.h"
#include "support/expect_error.h"
#include "unit/image_fixtures.h"

using mnet::test::Bytes;
using mnet::test::expect_error;

namespace {

// No crop, mean 0, std 1, BGR: the output planes are the decoded pixels.
mnet::Preprocess identity_pp(int rows, int cols) {
    mnet::Preprocess pp;
    pp.height = rows;
    pp.width = cols;
    pp.crop = 1.0;
    pp.color = mnet::ColorOrder::BGR;
    pp.mean = {0.0f, 0.0f, 0.0f};
    pp.std = {1.0f, 1.0f, 1.0f};
    return pp;
}

// Decodes `bytes` at their own size (cv::resize then copies) and returns the pixels as a BGR image.
cv::Mat decode_pixels(const Bytes& bytes, int rows, int cols, const mnet::ImageLimits& limits = {}) {
    std::vector<float> planes(static_cast<size_t>(3 * rows * cols));
    mnet::preprocess_bytes(bytes.data(), bytes.size(), identity_pp(rows, cols), planes.data(), "test image", limits);
    cv::Mat out(rows, cols, CV_8UC3);
    for (int y = 0; y < rows; ++y)
        for (int x = 0; x < cols; ++x)
            for (int c = 0; c < 3; ++c)
                out.at<cv::Vec3b>(y, x)[c] =
                    static_cast<uint8_t>(planes[(static_cast<size_t>(c) * rows + y) * cols + x]);
    return out;
}

double max_diff(const cv::Mat& a, const cv::Mat& b) {
    REQUIRE(a.size() == b.size());
    return cv::norm(a, b, cv::NORM_INF);
}

// A smooth test picture (gradients and a disc): JPEG reproduces it closely, unlike noise.
cv::Mat smooth_image(int rows, int cols) {
    cv::Mat img(rows, cols, CV_8UC3);
    for (int y = 0; y < rows; ++y)
        for (int x = 0; x < cols; ++x)
            img.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uint8_t>(255 * x / cols), static_cast<uint8_t>(255 * y / rows),
                                                static_cast<uint8_t>(64 + 128 * (x + y) / (rows + cols)));
    cv::circle(img, cv::Point(cols / 3, rows / 2), rows / 4, cv::Scalar(30, 200, 90), cv::FILLED);
    cv::GaussianBlur(img, img, cv::Size(5, 5), 1.5);
    return img;
}


void preprocess(const Bytes& bytes, const mnet::ImageLimits& limits = {}) {
    std::vector<float> dst(3 * 8 * 8);
    mnet::preprocess_bytes(bytes.data(), bytes.size(), identity_pp(8, 8), dst.data(), "test image", limits);
}

}  // namespace

TEST_CASE("every format OpenCV writes is sized from its header and limited before decoding", "[unit][images]") {
    constexpr int kRows = 48, kCols = 64;  // 3072 pixels; OpenJPEG needs at least 32 per side
    const cv::Mat img = smooth_image(kRows, kCols);
    cv::Mat img_f;
    img.convertTo(img_f, CV_32FC3, 1.0 / 255.0);
    cv::Mat gray;
    cv::cvtColor(img, gray, cv::COLOR_BGR2GRAY);
    struct Case {
        std::string ext;
        std::string format;
        cv::Mat image;
    };
    std::vector<Case> cases = {{".png", "PNG", img},   {".jpg", "JPEG", img},       {".bmp", "BMP", img},
                               {".webp", "WebP", img}, {".tiff", "TIFF", img},      {".ppm", "PNM", img},
                               {".pgm", "PNM", gray},  {".pbm", "PNM", gray},       {".pam", "PAM", img},
                               {".pfm", "PFM", img_f}, {".ras", "Sun raster", img}, {".hdr", "Radiance HDR", img_f},
                               {".exr", "OpenEXR", img_f}, {".jp2", "JPEG 2000", img}};
    mnet::ImageLimits tight, exact;
    tight.max_pixels = kRows * kCols - 1;
    exact.max_pixels = kRows * kCols;
    for (const Case& c : cases) {
        CAPTURE(c.ext);
        const Bytes bytes = mnet::test::encode_image(c.image, c.ext);
        const mnet::ImageHeader header = mnet::read_image_header(bytes.data(), bytes.size());
        REQUIRE(header.format != nullptr);
        CHECK(std::string(header.format) == c.format);
        REQUIRE(!header.sizes.empty());
        for (const mnet::DeclaredSize& s : header.sizes) {
            CHECK(s.width == kCols);
            CHECK(s.height == kRows);
        }
        expect_error([&] { preprocess(bytes, tight); }, mnet::ErrorCode::Io, {"image too large", "64x48 = 3072"});
        CHECK_NOTHROW(preprocess(bytes, exact));
    }

    SECTION("a bare JPEG 2000 codestream, cut out of the .jp2 file") {
        const Bytes jp2 = mnet::test::encode_image(img, ".jp2");
        const uint8_t kSoc[] = {0xFF, 0x4F, 0xFF, 0x51};  // start of codestream, then the SIZ marker
        const auto at = std::search(jp2.begin(), jp2.end(), kSoc, kSoc + 4);
        REQUIRE(at != jp2.end());
        const Bytes j2k(at, jp2.end());
        const mnet::ImageHeader header = mnet::read_image_header(j2k.data(), j2k.size());
        REQUIRE(header.sizes.size() == 1);
        CHECK(header.sizes[0].width == kCols);
        CHECK(header.sizes[0].height == kRows);
        CHECK(max_diff(decode_pixels(j2k, kRows, kCols), decode_pixels(jp2, kRows, kCols)) == 0);
    }
}

TEST_CASE("decompression bombs in every format are refused from the header", "[unit][images]") {
    for (const std::string& format : mnet::test::bomb_formats()) {
        // The largest each format can declare, where that is below 100000 per side.
        const uint32_t side = format == "JPEG" ? 60000 : format == "WebP" ? 16000 : 100000;
        CAPTURE(format, side);
        const Bytes bomb = mnet::test::bomb_header(format, side, side);
        const std::string dims = std::to_string(side) + "x" + std::to_string(side);
        expect_error([&] { preprocess(bomb); }, mnet::ErrorCode::Io, {"image too large", dims, "limit is 100000000"});

        // The same header declaring 10x10 passes the check and then fails to decode: there are no pixels.
        const Bytes small = mnet::test::bomb_header(format, 10, 10);
        const mnet::ImageHeader header = mnet::read_image_header(small.data(), small.size());
        REQUIRE(header.format != nullptr);
        bool found = false;
        for (const mnet::DeclaredSize& s : header.sizes) found |= s.width == 10 && s.height == 10;
        CHECK(found);
        expect_error([&] { preprocess(small); }, mnet::ErrorCode::Io, {"cannot decode image"});

        // Cut anywhere, the header is refused with a clean error, never read past its end.
        for (size_t n = 1; n < small.size(); ++n) {
            CAPTURE(n);
            const Bytes cut(small.begin(), small.begin() + static_cast<long>(n));
            expect_error([&] { preprocess(cut); }, mnet::ErrorCode::Io, {"test image: cannot decode image ("});
        }
    }
}

TEST_CASE("DICOM is refused, and a JPEG with too many scans is refused before decoding", "[unit][images]") {
    Bytes dicom(128, 0);
    for (char c : std::string("DICM\x02\x00\x00\x00UL\x04\x00", 12)) dicom.push_back(static_cast<uint8_t>(c));
    expect_error([&] { preprocess(dicom); }, mnet::ErrorCode::Io, {"DICOM files are not supported"});

    const cv::Mat img = smooth_image(48, 64);
    const Bytes progressive = mnet::test::encode_image(img, ".jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, 1});
    const cv::Mat expected = decode_pixels(progressive, 48, 64);  // a normal progressive JPEG decodes
    CHECK(max_diff(expected, img) <= 16);
    expect_error([&] { preprocess(mnet::test::with_repeated_last_scan(progressive, 1000)); }, mnet::ErrorCode::Io,
                 {"JPEG with", "scans, the limit is 1000"});
}

TEST_CASE("CMYK and YCCK JPEGs decode to the colours they were made from", "[unit][images]") {
    constexpr int kRows = 48, kCols = 64;
    const cv::Mat img = smooth_image(kRows, kCols);
    for (const bool ycck : {false, true}) {
        CAPTURE(ycck);
        const Bytes jpeg = mnet::test::cmyk_jpeg(img, ycck);
        const cv::Mat got = decode_pixels(jpeg, kRows, kCols);
        // Quality 100, no subsampling: only DCT rounding, the YCCK transform's rounding and OpenCV's >> 8 in
        // its CMYK formula remain.
        CHECK(max_diff(got, img) <= 6);
        const cv::Mat via_imdecode = cv::imdecode(jpeg, cv::IMREAD_COLOR);  // the reference's decoder
        CHECK(max_diff(got, via_imdecode) == 0);
    }
}

TEST_CASE("every EXIF orientation is applied, in both byte orders, and bad EXIF is ignored", "[unit][images]") {
    constexpr int kRows = 48, kCols = 64;  // not square, so the rotations change the shape
    const Bytes plain = mnet::test::encode_image(smooth_image(kRows, kCols), ".jpg");
    const cv::Mat stored = decode_pixels(plain, kRows, kCols);
    for (const bool big_endian : {true, false}) {
        for (int orientation = 1; orientation <= 8; ++orientation) {
            CAPTURE(big_endian, orientation);
            const Bytes tagged =
                mnet::test::with_exif_orientation(plain, static_cast<uint16_t>(orientation), big_endian);
            const cv::Mat expected = mnet::test::apply_orientation(stored, orientation);
            CHECK(max_diff(decode_pixels(tagged, expected.rows, expected.cols), expected) == 0);
        }
    }
    for (const uint16_t bad : {uint16_t{0}, uint16_t{9}, uint16_t{0xFFFF}}) {
        CAPTURE(bad);
        CHECK(max_diff(decode_pixels(mnet::test::with_exif_orientation(plain, bad), kRows, kCols), stored) == 0);
    }
    // Malformed EXIF blocks: the orientation cannot be read, so the stored pixels are shown.
    const std::vector<Bytes> broken = {
        {'E', 'x', 'i', 'f', 0, 0},                                                  // no TIFF header
        {'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42, 0xFF, 0xFF, 0xFF, 0xF0},          // IFD far past the end
        {'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0, 0xFF, 0xFF},          // 65535 entries, none there
        {'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0xFF, 0xFF, 0xFF, 0xFF},
        {'E', 'x', 'i', 'f', 0, 0, 'X', 'X', 0, 42, 0, 0, 0, 8},                      // unknown byte order
    };
    for (size_t i = 0; i < broken.size(); ++i) {
        CAPTURE(i);
        try {
            CHECK(max_diff(decode_pixels(mnet::test::with_app1(plain, broken[i]), kRows, kCols), stored) == 0);
        } catch (const mnet::Error& e) {
            CHECK(e.code() == mnet::ErrorCode::Io);  // refusing is fine too; crashing is not
        }
    }
}

TEST_CASE("a PFM image's [0, 1] floats become the 8-bit pixels they were made from", "[unit][images]") {
    constexpr int kRows = 20, kCols = 30;
    const cv::Mat img = smooth_image(kRows, kCols);
    cv::Mat img_f;
    img.convertTo(img_f, CV_32FC3, 1.0 / 255.0);
    CHECK(max_diff(decode_pixels(mnet::test::encode_image(img_f, ".pfm"), kRows, kCols), img) == 0);
}

TEST_CASE("grey JPEG, 16-bit grey and 16-bit RGBA PNG decode to 8-bit BGR", "[unit][images]") {
    constexpr int kRows = 20, kCols = 30;
    cv::Mat gray(kRows, kCols, CV_8UC1);
    cv::randu(gray, 0, 256);
    SECTION("grey JPEG: three equal channels, the grey values cv::imdecode gives in IMREAD_GRAYSCALE") {
        const Bytes jpeg = mnet::test::encode_image(gray, ".jpg");
        const cv::Mat got = decode_pixels(jpeg, kRows, kCols);
        const cv::Mat decoded_gray = cv::imdecode(jpeg, cv::IMREAD_GRAYSCALE);
        cv::Mat expected;
        cv::merge(std::vector<cv::Mat>{decoded_gray, decoded_gray, decoded_gray}, expected);
        CHECK(max_diff(got, expected) == 0);
    }
    SECTION("16-bit grey PNG: the high byte, in all three channels") {
        cv::Mat wide(kRows, kCols, CV_16UC1);
        cv::randu(wide, 0, 65536);
        const cv::Mat got = decode_pixels(mnet::test::encode_image(wide, ".png"), kRows, kCols);
        for (int y = 0; y < kRows; ++y)
            for (int x = 0; x < kCols; ++x)
                for (int c = 0; c < 3; ++c) CHECK(got.at<cv::Vec3b>(y, x)[c] == wide.at<uint16_t>(y, x) >> 8);
    }
    SECTION("16-bit RGBA PNG: the high byte of B, G, R; alpha dropped") {
        cv::Mat wide(kRows, kCols, CV_16UC4);
        cv::randu(wide, 0, 65536);
        const cv::Mat got = decode_pixels(mnet::test::encode_image(wide, ".png"), kRows, kCols);
        for (int y = 0; y < kRows; ++y)
            for (int x = 0; x < kCols; ++x)
                for (int c = 0; c < 3; ++c) CHECK(got.at<cv::Vec3b>(y, x)[c] == wide.at<cv::Vec4w>(y, x)[c] >> 8);
    }
}
