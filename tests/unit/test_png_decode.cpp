// SPDX-License-Identifier: Apache-2.0
// mnet's own PNG path (src/preprocess/png_decode.h) against its oracle, cv::imdecode(IMREAD_COLOR), the decoder
// the canonical preprocessing uses: the same pixels, bit for bit, for every PNG it takes, and the files it must
// leave to OpenCV left to it.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "image_fixtures.h"
#include "preprocess/png_decode.h"
#include "support/test_data.h"

namespace {

using mnet::test::Bytes;

cv::Mat test_picture(int rows, int cols, int type) {
    cv::Mat img(rows, cols, type);
    cv::randu(img, cv::Scalar::all(0), cv::Scalar::all(CV_MAT_DEPTH(type) == CV_16U ? 65536 : 256));
    return img;
}

void require_same_as_opencv(const Bytes& png) {
    const std::optional<cv::Mat> ours = mnet::decode_png(png.data(), png.size());
    REQUIRE(ours.has_value());
    const cv::Mat theirs = cv::imdecode(png, cv::IMREAD_COLOR);
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

// `png` with a chunk of `type` inserted after IHDR (its CRC left zero: only the chunk list is looked at).
Bytes with_chunk_after_ihdr(const Bytes& png, const char* type, const Bytes& payload) {
    const size_t after_ihdr = 8 + 12 + 13;
    Bytes out(png.begin(), png.begin() + static_cast<std::ptrdiff_t>(after_ihdr));
    const auto n = static_cast<uint32_t>(payload.size());
    for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<uint8_t>(n >> shift));
    out.insert(out.end(), type, type + 4);
    out.insert(out.end(), payload.begin(), payload.end());
    out.insert(out.end(), 4, 0);
    out.insert(out.end(), png.begin() + static_cast<std::ptrdiff_t>(after_ihdr), png.end());
    return out;
}

}  // namespace

TEST_CASE("our PNG decoding gives cv::imdecode's pixels on the shared photos", "[unit][images][png]") {
    for (const char* name : {"chelsea.png", "coffee.png"}) {
        INFO(name);
        require_same_as_opencv(read_bytes(mnet::test::shared_dir() + "/testdata/images/" + name));
    }
}

TEST_CASE("our PNG decoding gives cv::imdecode's pixels on every kind of PNG it takes", "[unit][images][png]") {
    constexpr int kRows = 19, kCols = 23;
    SECTION("8-bit BGR") { require_same_as_opencv(mnet::test::encode_image(test_picture(kRows, kCols, CV_8UC3), ".png")); }
    SECTION("8-bit BGRA: alpha dropped") {
        require_same_as_opencv(mnet::test::encode_image(test_picture(kRows, kCols, CV_8UC4), ".png"));
    }
    SECTION("8-bit grey") { require_same_as_opencv(mnet::test::encode_image(test_picture(kRows, kCols, CV_8UC1), ".png")); }
    SECTION("1-bit grey") {
        require_same_as_opencv(
            mnet::test::encode_image(test_picture(kRows, kCols, CV_8UC1), ".png", {cv::IMWRITE_PNG_BILEVEL, 1}));
    }
    SECTION("16-bit grey, BGR and BGRA: the high byte") {
        for (int type : {CV_16UC1, CV_16UC3, CV_16UC4}) {
            require_same_as_opencv(mnet::test::encode_image(test_picture(kRows, kCols, type), ".png"));
        }
    }
    SECTION("palette with transparency") {
        const cv::Mat index = test_picture(kRows, kCols, CV_8UC1) / 64;  // 4 entries
        require_same_as_opencv(mnet::test::palette_png(index, {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {9, 99, 199}}));
    }
    SECTION("one pixel") { require_same_as_opencv(mnet::test::encode_image(test_picture(1, 1, CV_8UC3), ".png")); }
}

TEST_CASE("our PNG decoding leaves to OpenCV what it does not decode itself", "[unit][images][png]") {
    const Bytes png = mnet::test::encode_image(test_picture(8, 8, CV_8UC3), ".png");
    auto left_to_opencv = [](const Bytes& file) { return !mnet::decode_png(file.data(), file.size()).has_value(); };
    CHECK(left_to_opencv(with_chunk_after_ihdr(png, "eXIf", {'M', 'M', 0, 42, 0, 0, 0, 8})));
    CHECK(left_to_opencv(Bytes(png.begin(), png.end() - 12)));   // no IEND
    CHECK(left_to_opencv(Bytes(png.begin(), png.begin() + 40)));  // cut inside the data
    Bytes corrupt = png;
    corrupt[8 + 12 + 13 + 12] ^= 0xFF;  // inside the first IDAT: libpng's CRC error
    CHECK(left_to_opencv(corrupt));
    CHECK(left_to_opencv(mnet::test::encode_image(test_picture(8, 8, CV_8UC3), ".jpg")));
}
