// SPDX-License-Identifier: Apache-2.0
// mnet's own JPEG path (src/preprocess/jpeg_decode.h) against its oracle, cv::imdecode(IMREAD_COLOR), the
// decoder the canonical preprocessing uses: the same pixels, bit for bit, for every JPEG it takes, and the
// files it must leave to OpenCV left to it.
#include <catch2/catch.hpp>

#include <cstddef>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "image_fixtures.h"
#include "preprocess/jpeg_decode.h"
#include "support/test_data.h"

namespace {

using mnet::test::Bytes;

// A smooth picture with fine detail: every DCT frequency matters, so any difference in decoding shows.
cv::Mat test_picture(int rows, int cols) {
    cv::Mat img(rows, cols, CV_8UC3);
    for (int y = 0; y < rows; ++y) {
        for (int x = 0; x < cols; ++x) {
            img.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uint8_t>((x * 7 + y * 3) % 256),
                                                static_cast<uint8_t>((x * y) % 251),
                                                static_cast<uint8_t>(128 + ((x ^ y) % 64) * 2));
        }
    }
    return img;
}

// Decoded by us and by OpenCV: same size, type and every byte.
void require_same_as_opencv(const Bytes& jpeg) {
    const std::optional<cv::Mat> ours = mnet::decode_jpeg(jpeg.data(), jpeg.size());
    REQUIRE(ours.has_value());
    const cv::Mat theirs = cv::imdecode(jpeg, cv::IMREAD_COLOR);
    REQUIRE(!theirs.empty());
    REQUIRE(ours->type() == theirs.type());
    REQUIRE(ours->size() == theirs.size());
    REQUIRE(cv::norm(*ours, theirs, cv::NORM_INF) == 0);
}

Bytes read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("our JPEG decoding gives cv::imdecode's pixels on the shared photos", "[unit][images][jpeg]") {
    for (const char* name : {"dog.jpg", "eagle.jpg", "kite.jpg"}) {
        INFO(name);
        require_same_as_opencv(read_bytes(mnet::test::shared_dir() + "/testdata/images/" + name));
    }
}

TEST_CASE("our JPEG decoding gives cv::imdecode's pixels on every kind of JPEG it takes", "[unit][images][jpeg]") {
    const cv::Mat img = test_picture(37, 53);  // sizes that are not multiples of the 8x8 or 16x16 blocks
    cv::Mat gray;
    cv::cvtColor(img, gray, cv::COLOR_BGR2GRAY);
    SECTION("baseline 4:2:0") { require_same_as_opencv(mnet::test::encode_image(img, ".jpg")); }
    SECTION("4:4:4: OpenCV's encoder does not subsample when luma and chroma qualities differ") {
        require_same_as_opencv(mnet::test::encode_image(
            img, ".jpg", {cv::IMWRITE_JPEG_LUMA_QUALITY, 100, cv::IMWRITE_JPEG_CHROMA_QUALITY, 90}));
    }
    SECTION("progressive, optimized, with restart intervals") {
        require_same_as_opencv(mnet::test::encode_image(
            img, ".jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, 1, cv::IMWRITE_JPEG_OPTIMIZE, 1, cv::IMWRITE_JPEG_RST_INTERVAL, 3}));
    }
    SECTION("grey: three equal channels") { require_same_as_opencv(mnet::test::encode_image(gray, ".jpg")); }
    SECTION("EXIF orientation 1 in either byte order, and an EXIF block without orientation") {
        const Bytes plain = mnet::test::encode_image(img, ".jpg");
        require_same_as_opencv(mnet::test::with_exif_orientation(plain, 1, true));
        require_same_as_opencv(mnet::test::with_exif_orientation(plain, 1, false));
        const Bytes no_orientation = {'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0, 0, 0};
        require_same_as_opencv(mnet::test::with_app1(plain, no_orientation));
    }
    SECTION("one pixel") { require_same_as_opencv(mnet::test::encode_image(test_picture(1, 1), ".jpg")); }
}

TEST_CASE("our JPEG decoding leaves to OpenCV what it does not decode itself", "[unit][images][jpeg]") {
    const cv::Mat img = test_picture(24, 32);
    const Bytes plain = mnet::test::encode_image(img, ".jpg");
    auto left_to_opencv = [](const Bytes& jpeg) { return !mnet::decode_jpeg(jpeg.data(), jpeg.size()).has_value(); };
    for (uint16_t orientation = 2; orientation <= 8; ++orientation) {
        INFO("orientation " << orientation);
        CHECK(left_to_opencv(mnet::test::with_exif_orientation(plain, orientation)));
    }
    CHECK(left_to_opencv(mnet::test::with_app1(plain, {'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 200, 0, 0, 0})));
    CHECK(left_to_opencv(mnet::test::with_app1(plain, {'h', 't', 't', 'p', ':', '/', '/'})));  // XMP first
    CHECK(left_to_opencv(mnet::test::cmyk_jpeg(img, false)));
    CHECK(left_to_opencv(mnet::test::cmyk_jpeg(img, true)));
    CHECK(left_to_opencv(Bytes{0xFF, 0xD8, 0xFF, 0xD9}));  // no frame: libjpeg's error, OpenCV's message
}

namespace {

// The scale --jpeg-decode scaled must pick, from its definition rather than from libjpeg: the largest
// reduction 1/d (d = 8, 4, 2) whose decoded size, ceil(side / d) as libjpeg rounds it, still crops to at least
// the model input (int(side * crop) >= input, the crop's own truncation); 1 when none does.
int expected_denominator(int cols, int rows, const mnet::Preprocess& pp) {
    for (const int d : {8, 4, 2}) {
        const int cols_d = (cols + d - 1) / d, rows_d = (rows + d - 1) / d;
        if (static_cast<int>(cols_d * pp.crop) >= pp.width && static_cast<int>(rows_d * pp.crop) >= pp.height) {
            return d;
        }
    }
    return 1;
}

int opencv_reduced_flag(int denominator) {
    switch (denominator) {
        case 2: return cv::IMREAD_REDUCED_COLOR_2;
        case 4: return cv::IMREAD_REDUCED_COLOR_4;
        case 8: return cv::IMREAD_REDUCED_COLOR_8;
        default: return cv::IMREAD_COLOR;
    }
}

mnet::Preprocess input_of(int size, double crop) {
    mnet::Preprocess pp;
    pp.height = pp.width = size;
    pp.crop = crop;
    return pp;
}

// Decoded with DCT scaling for `pp`: the scale the rule gives (`expected`, worked out by hand in each case),
// libjpeg's size for it, and the pixels OpenCV's own reduced decoding (IMREAD_REDUCED_COLOR_d, the same libjpeg
// scale_denom) gives.
void require_scaled_as_opencv(const Bytes& jpeg, const mnet::Preprocess& pp, int expected) {
    const cv::Mat full = cv::imdecode(jpeg, cv::IMREAD_COLOR);
    REQUIRE(!full.empty());
    const int d = expected_denominator(full.cols, full.rows, pp);
    CHECK(d == expected);
    const std::optional<cv::Mat> ours = mnet::decode_jpeg(jpeg.data(), jpeg.size(), &pp);
    REQUIRE(ours.has_value());
    CHECK(ours->cols == (full.cols + d - 1) / d);
    CHECK(ours->rows == (full.rows + d - 1) / d);
    const cv::Mat theirs = cv::imdecode(jpeg, opencv_reduced_flag(d));
    REQUIRE(ours->size() == theirs.size());
    REQUIRE(cv::norm(*ours, theirs, cv::NORM_INF) == 0);
}

}  // namespace

TEST_CASE("DCT-scaled JPEG decoding takes the largest reduction that still covers the crop", "[unit][images][jpeg]") {
    const std::string images = mnet::test::shared_dir() + "/testdata/images/";
    SECTION("the shared photos for a 224 input, crop 0.875: all at 1/2 (kite at 1/4 would crop to 295x196)") {
        // eagle: 773x512 at 1/2 is 387x256, and 256 * 0.875 = 224 exactly: the boundary counts as covered.
        for (const char* name : {"dog.jpg", "eagle.jpg", "kite.jpg"}) {
            INFO(name);
            require_scaled_as_opencv(read_bytes(images + name), input_of(224, 0.875), 2);
        }
    }
    SECTION("a 96 input: kite (1352x900) at 1/8, dog (768x576) at 1/4") {
        require_scaled_as_opencv(read_bytes(images + "kite.jpg"), input_of(96, 0.875), 8);
        require_scaled_as_opencv(read_bytes(images + "dog.jpg"), input_of(96, 0.875), 4);
    }
    SECTION("no crop: dog for 224 at 1/2 (384x288), for 300 at full size (never upscaled)") {
        require_scaled_as_opencv(read_bytes(images + "dog.jpg"), input_of(224, 1.0), 2);
        require_scaled_as_opencv(read_bytes(images + "dog.jpg"), input_of(300, 1.0), 1);
    }
    SECTION("one row short of the boundary stays at full size, bit-exact") {
        const cv::Mat img = test_picture(510, 600);  // 1/2: 300x255, 255 * 0.875 = 223.1 < 224
        require_scaled_as_opencv(mnet::test::encode_image(img, ".jpg"), input_of(224, 0.875), 1);
        require_scaled_as_opencv(mnet::test::encode_image(test_picture(512, 600), ".jpg"), input_of(224, 0.875), 2);
    }
    SECTION("progressive and grey JPEGs, and sides that are not multiples of the block size") {
        const cv::Mat img = test_picture(901, 1203);
        cv::Mat gray;
        cv::cvtColor(img, gray, cv::COLOR_BGR2GRAY);
        require_scaled_as_opencv(mnet::test::encode_image(img, ".jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, 1}),
                                 input_of(224, 0.875), 2);
        require_scaled_as_opencv(mnet::test::encode_image(gray, ".jpg"), input_of(100, 0.875), 4);
    }
    SECTION("a tiny image is decoded as it is") {
        require_scaled_as_opencv(mnet::test::encode_image(test_picture(37, 53), ".jpg"), input_of(224, 0.875), 1);
    }
}
