// SPDX-License-Identifier: Apache-2.0
// The image front end against the shared reference inputs (bit for bit) and against synthetic images whose
// expected pixels are known, or computed by an independent transcription of the README steps on cv::imread.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "mnet/error.h"
#include "mnet/image.h"
#include "preprocess/decode_gate.h"
#include "support/test_data.h"
#include "support/expect_error.h"
#include "unit/image_fixtures.h"

namespace fs = std::filesystem;
using mnet::ColorOrder;
using mnet::test::expect_error;
using mnet::Preprocess;

namespace {

uint32_t float_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

// Index of the first element whose bits differ, or -1 when both are bit-identical.
int64_t first_mismatch(const std::vector<float>& got, const std::vector<float>& expected) {
    if (got.size() != expected.size()) return 0;
    for (size_t i = 0; i < got.size(); ++i) {
        if (float_bits(got[i]) != float_bits(expected[i])) return static_cast<int64_t>(i);
    }
    return -1;
}

Preprocess make_pp(int height, int width, double crop, float mean, float std_dev,
                   ColorOrder color = ColorOrder::RGB) {
    Preprocess pp;
    pp.height = height;
    pp.width = width;
    pp.crop = crop;
    pp.color = color;
    pp.mean = {mean, mean, mean};
    pp.std = {std_dev, std_dev, std_dev};
    return pp;
}

// Leaves pixels untouched: same size (cv::resize then copies), no crop, x = pixel.
Preprocess identity_pp(int rows, int cols, ColorOrder color = ColorOrder::BGR) {
    return make_pp(rows, cols, 1.0, 0.0f, 1.0f, color);
}

std::vector<float> run_file(const std::string& path, const Preprocess& pp, const mnet::ImageLimits& limits = {}) {
    mnet::Tensor t = mnet::load_image(path, pp, limits);
    REQUIRE(t.shape == mnet::Shape{1, 3, pp.height, pp.width});
    return t.data;
}

// The README's Python, transcribed on a cv::imread result: the independent oracle for synthetic images.
std::vector<float> readme_pipeline(cv::Mat img, const Preprocess& pp) {
    if (pp.crop < 1) {
        int h = img.rows, w = img.cols;
        int ch = static_cast<int>(h * pp.crop), cw = static_cast<int>(w * pp.crop);
        img = img(cv::Rect((w - cw) / 2, (h - ch) / 2, cw, ch));
    }
    cv::resize(img, img, cv::Size(pp.width, pp.height), 0, 0, cv::INTER_AREA);
    if (pp.color == ColorOrder::RGB) cv::cvtColor(img, img, cv::COLOR_BGR2RGB);
    std::vector<float> out(static_cast<size_t>(3 * pp.height * pp.width));
    for (int y = 0; y < pp.height; ++y)
        for (int x = 0; x < pp.width; ++x)
            for (int c = 0; c < 3; ++c)
                out[(static_cast<size_t>(c) * pp.height + y) * pp.width + x] =
                    (static_cast<float>(img.at<cv::Vec3b>(y, x)[c]) - pp.mean[c]) / pp.std[c];
    return out;
}

// Planar identity output back to an interleaved BGR image, for pixel-level comparisons.
cv::Mat planes_to_bgr(const std::vector<float>& planes, int rows, int cols) {
    cv::Mat out(rows, cols, CV_8UC3);
    for (int y = 0; y < rows; ++y)
        for (int x = 0; x < cols; ++x)
            for (int c = 0; c < 3; ++c)
                out.at<cv::Vec3b>(y, x)[c] = static_cast<uint8_t>(planes[(static_cast<size_t>(c) * rows + y) * cols + x]);
    return out;
}

bool same_pixels(const cv::Mat& a, const cv::Mat& b) {
    return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

cv::Mat random_image(int rows, int cols, int type, uint32_t seed) {
    cv::Mat m(rows, cols, type);
    cv::RNG rng(seed);
    rng.fill(m, cv::RNG::UNIFORM, 0, CV_MAT_DEPTH(type) == CV_16U ? 65536 : 256);
    return m;
}


}  // namespace

TEST_CASE("preprocess reproduces every reference input bit for bit", "[unit][preprocess]") {
    const fs::path shared = mnet::test::shared_dir();
    const fs::path reference_dir = shared / "testdata" / "reference";
    int total = 0, matched = 0;
    for (const auto& entry : fs::directory_iterator(reference_dir)) {
        if (!entry.is_directory() || !fs::exists(entry.path() / "reference.json")) continue;
        const auto doc = nlohmann::json::parse(mnet::test::read_file_bytes((entry.path() / "reference.json").string()));
        const auto& p = doc.at("preprocessing");
        const float mean = p.at("mean").get<float>(), std_dev = p.at("std").get<float>();
        // The float32 hex is the spec; the decimal must agree with it.
        CHECK(float_bits(mean) == std::stoul(p.at("mean_f32_hex").get<std::string>(), nullptr, 16));
        CHECK(float_bits(std_dev) == std::stoul(p.at("std_f32_hex").get<std::string>(), nullptr, 16));
        const Preprocess pp = make_pp(p.at("input_h").get<int>(), p.at("input_w").get<int>(),
                                      p.at("crop").get<double>(), mean, std_dev);
        for (const auto& image : doc.at("images")) {
            const std::string file = image.at("file").get<std::string>();
            REQUIRE(file.rfind("shared/", 0) == 0);
            const std::string path = (shared / file.substr(std::strlen("shared/"))).string();
            const std::string stem = image.at("stem").get<std::string>();
            CAPTURE(entry.path().filename().string(), stem);
            const auto expected = mnet::test::read_f32_file((entry.path() / (stem + ".input.f32")).string());
            REQUIRE(expected.size() == static_cast<size_t>(3 * pp.height * pp.width));

            const std::vector<float> got = run_file(path, pp);
            const int64_t at = first_mismatch(got, expected);
            if (at >= 0) {
                INFO("first mismatch at index " << at << ": got " << got[static_cast<size_t>(at)] << ", expected "
                                                << expected[static_cast<size_t>(at)]);
                CHECK(at < 0);
            }
            // The in-memory entry point is the same code path; check it anyway.
            const auto bytes = mnet::test::read_file_bytes(path);
            std::vector<float> from_bytes(expected.size());
            mnet::preprocess_bytes(bytes.data(), bytes.size(), pp, from_bytes.data(), path);
            CHECK(first_mismatch(from_bytes, expected) < 0);
            ++total;
            if (at < 0) ++matched;
        }
    }
    INFO(matched << " of " << total << " reference inputs matched bit for bit");
    CHECK(total == 25);
    CHECK(matched == total);
}

TEST_CASE("preprocess converts every pixel format to 8-bit BGR as cv::imread does", "[unit][preprocess]") {
    const std::string dir = mnet::test::make_temp_dir("preprocess");
    const Preprocess model_pp = make_pp(24, 20, 0.875, 128.0f, 127.0f);
    constexpr int kRows = 45, kCols = 67;

    // Each image's pixels through identity_pp must equal `expected`, and model_pp must match the README
    // pipeline run on cv::imread of the same file (so imdecode on our bytes == imread on the path).
    auto check = [&](const std::string& path, const cv::Mat& expected) {
        CAPTURE(path);
        CHECK(same_pixels(planes_to_bgr(run_file(path, identity_pp(expected.rows, expected.cols)), expected.rows,
                                        expected.cols), expected));
        const cv::Mat via_imread = cv::imread(path, cv::IMREAD_COLOR);
        REQUIRE(!via_imread.empty());
        CHECK(first_mismatch(run_file(path, model_pp), readme_pipeline(via_imread, model_pp)) < 0);
    };

    SECTION("8-bit BGR PNG, both colour orders") {
        const cv::Mat bgr = random_image(kRows, kCols, CV_8UC3, 1);
        const std::string path = dir + "/bgr.png";
        REQUIRE(cv::imwrite(path, bgr));
        check(path, bgr);
        cv::Mat rgb;
        cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
        CHECK(same_pixels(planes_to_bgr(run_file(path, identity_pp(kRows, kCols, ColorOrder::RGB)), kRows, kCols), rgb));
    }
    SECTION("grayscale PNG: three equal channels") {
        const cv::Mat gray = random_image(kRows, kCols, CV_8UC1, 2);
        const std::string path = dir + "/gray.png";
        REQUIRE(cv::imwrite(path, gray));
        cv::Mat expected;
        cv::merge(std::vector<cv::Mat>{gray, gray, gray}, expected);
        check(path, expected);
    }
    SECTION("16-bit PNG: the high byte of each sample") {
        const cv::Mat wide = random_image(kRows, kCols, CV_16UC3, 3);
        const std::string path = dir + "/wide.png";
        REQUIRE(cv::imwrite(path, wide));
        cv::Mat expected(kRows, kCols, CV_8UC3);
        for (int y = 0; y < kRows; ++y)
            for (int x = 0; x < kCols; ++x)
                for (int c = 0; c < 3; ++c)
                    expected.at<cv::Vec3b>(y, x)[c] = static_cast<uint8_t>(wide.at<cv::Vec3w>(y, x)[c] >> 8);
        check(path, expected);
    }
    SECTION("RGBA PNG: alpha dropped, not blended") {
        const cv::Mat bgra = random_image(kRows, kCols, CV_8UC4, 4);
        const std::string path = dir + "/alpha.png";
        REQUIRE(cv::imwrite(path, bgra));
        cv::Mat expected;
        cv::cvtColor(bgra, expected, cv::COLOR_BGRA2BGR);
        check(path, expected);
    }
    SECTION("palette PNG with transparency: the palette colours") {
        const std::vector<cv::Vec3b> rgb = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {12, 34, 56}, {200, 100, 50}};
        cv::Mat index(kRows, kCols, CV_8UC1);
        cv::Mat expected(kRows, kCols, CV_8UC3);
        for (int y = 0; y < kRows; ++y)
            for (int x = 0; x < kCols; ++x) {
                const auto i = static_cast<uint8_t>((x * 7 + y * 3) % rgb.size());
                index.at<uint8_t>(y, x) = i;
                expected.at<cv::Vec3b>(y, x) = cv::Vec3b(rgb[i][2], rgb[i][1], rgb[i][0]);
            }
        const std::string path = dir + "/palette.png";
        mnet::test::write_file_bytes(path, mnet::test::palette_png(index, rgb));
        check(path, expected);
    }
    SECTION("crop size is int(side * crop) in double precision") {
        // 50 * 0.58 is 28.999999999999996 in double but 29.0 in float: a float multiply would keep one column more.
        const cv::Mat img = random_image(10, 50, CV_8UC3, 9);
        const std::string path = dir + "/crop.png";
        REQUIRE(cv::imwrite(path, img));
        const Preprocess pp = make_pp(5, 28, 0.58, 0.0f, 1.0f, ColorOrder::BGR);  // 5x28: resize only copies
        CHECK(same_pixels(planes_to_bgr(run_file(path, pp), 5, 28), img(cv::Rect(11, 2, 28, 5))));
    }
    SECTION("1x1 PNG, even with a crop that rounds to zero pixels") {
        const cv::Mat one(1, 1, CV_8UC3, cv::Scalar(10, 20, 30));
        const std::string path = dir + "/one.png";
        REQUIRE(cv::imwrite(path, one));
        const Preprocess pp = make_pp(4, 3, 0.875, 128.0f, 127.0f);
        const std::vector<float> got = run_file(path, pp);
        const float rgb[3] = {30, 20, 10};
        for (size_t i = 0; i < got.size(); ++i) CHECK(float_bits(got[i]) == float_bits((rgb[i / 12] - 128.0f) / 127.0f));
    }
}

TEST_CASE("preprocess applies EXIF orientation exactly as cv::imread does", "[unit][preprocess]") {
    const std::string dir = mnet::test::make_temp_dir("preprocess-exif");
    constexpr int kRows = 48, kCols = 64;  // not square, so a rotation changes the shape
    const std::vector<uint8_t> plain = mnet::test::encode_image(random_image(kRows, kCols, CV_8UC3, 5), ".jpg");
    const std::string plain_path = dir + "/plain.jpg", rotated_path = dir + "/orientation6.jpg";
    mnet::test::write_file_bytes(plain_path, plain);
    mnet::test::write_file_bytes(rotated_path, mnet::test::with_exif_orientation(plain, 6));

    // Orientation 6: the stored rows are the picture's right-hand column, so displaying rotates 90° clockwise.
    cv::Mat upright;
    cv::rotate(cv::imread(plain_path, cv::IMREAD_COLOR), upright, cv::ROTATE_90_CLOCKWISE);
    REQUIRE(same_pixels(cv::imread(rotated_path, cv::IMREAD_COLOR), upright));  // OpenCV itself honours it

    CHECK(same_pixels(planes_to_bgr(run_file(rotated_path, identity_pp(kCols, kRows)), kCols, kRows), upright));
    const Preprocess pp = make_pp(32, 24, 0.875, 128.0f, 127.0f);
    CHECK(first_mismatch(run_file(rotated_path, pp), readme_pipeline(upright, pp)) < 0);
    const std::string upright_png = dir + "/upright.png";
    REQUIRE(cv::imwrite(upright_png, upright));
    CHECK(first_mismatch(run_file(rotated_path, pp), run_file(upright_png, pp)) < 0);
}

TEST_CASE("preprocess refuses bad files with a message naming them", "[unit][preprocess]") {
    const std::string dir = mnet::test::make_temp_dir("preprocess-bad");
    const Preprocess pp = make_pp(16, 16, 0.875, 128.0f, 127.0f);
    const auto io = mnet::ErrorCode::Io;
    auto load = [&](const std::string& path) { return [&pp, path] { mnet::load_image(path, pp); }; };
    const std::vector<uint8_t> jpeg = mnet::test::encode_image(random_image(40, 30, CV_8UC3, 6), ".jpg");
    const std::vector<uint8_t> png = mnet::test::encode_image(random_image(40, 30, CV_8UC3, 7), ".png");

    const std::string empty = dir + "/empty.jpg";
    mnet::test::write_file_bytes(empty, {});
    expect_error(load(empty), io, {empty, "cannot decode image", "empty"});

    const std::string text = dir + "/text.jpg";
    mnet::test::write_text_file(text, "hello, this is not a photo\n");
    expect_error(load(text), io, {text, "cannot decode image", "hello, t"});

    const std::string cut_jpeg = dir + "/cut.jpg";
    mnet::test::write_file_bytes(cut_jpeg, std::vector<uint8_t>(jpeg.begin(), jpeg.begin() + static_cast<long>(jpeg.size() / 2)));
    expect_error(load(cut_jpeg), io, {cut_jpeg, "truncated JPEG"});

    const std::string headers_only = dir + "/headers_only.jpg";  // cut inside the header segments
    mnet::test::write_file_bytes(headers_only, std::vector<uint8_t>(jpeg.begin(), jpeg.begin() + 100));
    expect_error(load(headers_only), io, {headers_only, "JPEG"});

    const std::string cut_png = dir + "/cut.png";
    mnet::test::write_file_bytes(cut_png, std::vector<uint8_t>(png.begin(), png.begin() + static_cast<long>(png.size() / 2)));
    expect_error(load(cut_png), io, {cut_png, "cannot decode image", "PNG"});

    const std::string missing = dir + "/missing.png";
    expect_error(load(missing), io, {missing, "cannot read image file", "No such file"});
    expect_error(load(dir), io, {dir, "directory"});

    const std::vector<uint8_t> bytes = mnet::test::read_file_bytes(text);
    std::vector<float> dst(3 * 16 * 16);
    expect_error([&] { mnet::preprocess_bytes(bytes.data(), bytes.size(), pp, dst.data(), "camera frame 7"); },
                 io, {"camera frame 7: cannot decode image"});
    expect_error([&] { mnet::preprocess_bytes(nullptr, 0, pp, dst.data(), "nothing"); }, io, {"nothing", "empty"});
}

TEST_CASE("preprocess enforces the pixel limit, from the header where it can", "[unit][preprocess]") {
    const std::string dir = mnet::test::make_temp_dir("preprocess-limit");
    const Preprocess pp = make_pp(8, 8, 1.0, 127.5f, 127.5f);
    const cv::Mat img = random_image(30, 40, CV_8UC3, 8);  // 1200 pixels
    mnet::ImageLimits tight;
    tight.max_pixels = 1199;
    mnet::ImageLimits exact;
    exact.max_pixels = 1200;
    // Every format here, Sun raster (.ras) included, is sized from its header (image_header.cpp).
    for (const std::string ext : {".png", ".jpg", ".bmp", ".webp", ".tiff", ".ppm", ".pgm", ".ras"}) {
        const std::string path = dir + "/image" + ext;
        CAPTURE(path);
        cv::Mat written = img;
        if (ext == ".pgm") cv::cvtColor(img, written, cv::COLOR_BGR2GRAY);
        REQUIRE(cv::imwrite(path, written));
        expect_error([&] { mnet::load_image(path, pp, tight); }, mnet::ErrorCode::Io,
                     {path, "image too large", "40x30 = 1200 pixels", "limit is 1199"});
        CHECK_NOTHROW(mnet::load_image(path, pp, exact));
    }

    // Headers that declare a huge image and hold no pixel data: refused as too large, so nothing was decoded.
    const std::vector<uint8_t> png_bomb = mnet::test::bomb_header("PNG", 100000, 100000);
    const std::string png_path = dir + "/bomb.png";
    mnet::test::write_file_bytes(png_path, png_bomb);
    expect_error([&] { mnet::load_image(png_path, pp); }, mnet::ErrorCode::Io,
                 {png_path, "image too large", "100000x100000", "limit is 100000000"});

    const std::vector<uint8_t> huge = mnet::test::bomb_header("PNG", 0xFFFFFFFFu, 0xFFFFFFFFu);  // w*h overflows int64
    const std::string huge_path = dir + "/huge.png";
    mnet::test::write_file_bytes(huge_path, huge);
    expect_error([&] { mnet::load_image(huge_path, pp); }, mnet::ErrorCode::Io, {huge_path, "image too large"});

    std::vector<uint8_t> jpeg_bomb = {0xFF, 0xD8, 0xFF, 0xC0, 0, 17, 8, 0xFF, 0xF0, 0xFF, 0xF0, 3,
                                      1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0};  // SOF0 65520x65520, then nothing
    const std::string jpeg_path = dir + "/bomb.jpg";
    mnet::test::write_file_bytes(jpeg_path, jpeg_bomb);
    expect_error([&] { mnet::load_image(jpeg_path, pp); }, mnet::ErrorCode::Io, {jpeg_path, "image too large"});
}

TEST_CASE("preprocess rejects bad arguments", "[unit][preprocess]") {
    std::vector<float> dst(3 * 4 * 4);
    const uint8_t byte = 0;
    auto run = [&](const Preprocess& pp) { mnet::preprocess_bytes(&byte, 1, pp, dst.data(), "x"); };
    const auto bad = mnet::ErrorCode::InvalidArgument;
    expect_error([&] { run(make_pp(0, 4, 1.0, 0, 1)); }, bad, {"input size"});
    expect_error([&] { run(make_pp(4, 4, 0.0, 0, 1)); }, bad, {"crop"});
    expect_error([&] { run(make_pp(4, 4, 1.5, 0, 1)); }, bad, {"crop"});
    expect_error([&] { run(make_pp(4, 4, 1.0, 0, 0)); }, bad, {"std"});
    mnet::ImageLimits zero;
    zero.max_pixels = 0;
    expect_error([&] { mnet::preprocess_bytes(&byte, 1, make_pp(4, 4, 1, 0, 1), dst.data(), "x", zero); }, bad,
                 {"limits"});
}

TEST_CASE("preprocess never crashes on truncated or corrupted images", "[unit][preprocess]") {
    // Each cut or damaged file must either decode or throw mnet::Error (OpenCV and libpng print to stderr).
    const Preprocess pp = make_pp(8, 8, 0.875, 128.0f, 127.0f);
    const cv::Mat img = random_image(23, 31, CV_8UC3, 10);
    std::mt19937 rng(11);
    std::vector<float> dst(3 * 8 * 8);
    for (const std::string ext : {".png", ".jpg", ".bmp", ".webp", ".tiff", ".ppm"}) {
        const std::vector<uint8_t> good = mnet::test::encode_image(img, ext);
        auto survive = [&](const std::vector<uint8_t>& bytes, size_t size) {
            try {
                mnet::preprocess_bytes(bytes.data(), size, pp, dst.data(), "damaged" + ext);
            } catch (const mnet::Error& e) {
                CHECK(e.code() == mnet::ErrorCode::Io);
            }
        };
        for (size_t size = 0; size < good.size(); size += good.size() / 16 + 1) survive(good, size);
        for (int trial = 0; trial < 16; ++trial) {
            std::vector<uint8_t> bytes = good;
            bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
            survive(bytes, bytes.size());
        }
    }
}

namespace {

// Records what preprocess_file tells a DecodeGate; fails the image when `refuse` is set.
struct CountingGate final : mnet::DecodeGate {
    std::vector<int64_t> entered, left;
    bool refuse = false;
    void enter(int64_t pixels) override {
        if (refuse) throw std::runtime_error("refused by the gate");
        entered.push_back(pixels);
    }
    void leave(int64_t pixels) override { left.push_back(pixels); }
};

}  // namespace

TEST_CASE("preprocess passes each decode through the gate, and out again on every path", "[unit][preprocess]") {
    // batch's decode budget (src/cli/pipeline.cpp) relies on this: a leave() missed on an error path would
    // keep its pixels counted, and every later large image would wait for them forever.
    const std::string dir = mnet::test::make_temp_dir("decode-gate");
    const Preprocess pp = make_pp(16, 16, 0.875, 128.0f, 127.0f);
    std::vector<float> dst(3 * 16 * 16);
    const cv::Mat image(30, 40, CV_8UC3, cv::Scalar(10, 20, 30));
    const std::vector<uint8_t> png = mnet::test::encode_image(image, ".png");
    auto write = [&](const std::string& name, const std::vector<uint8_t>& bytes) {
        mnet::test::write_file_bytes(dir + "/" + name, bytes);
        return dir + "/" + name;
    };
    CountingGate gate;

    SECTION("a good image: once in and out with its declared size") {
        mnet::preprocess_file(write("good.png", png), pp, dst.data(), {}, gate);
        CHECK(gate.entered == std::vector<int64_t>{40 * 30});
        CHECK(gate.left == gate.entered);
    }
    SECTION("a decoder failure after the header still leaves") {
        const std::vector<uint8_t> cut(png.begin(), png.begin() + static_cast<long>(png.size() / 2));
        CHECK_THROWS_AS(mnet::preprocess_file(write("cut.png", cut), pp, dst.data(), {}, gate), mnet::Error);
        CHECK(gate.entered == std::vector<int64_t>{40 * 30});
        CHECK(gate.left == gate.entered);
    }
    SECTION("a refused header never enters") {
        const std::string bomb = write("bomb.png", mnet::test::bomb_header("PNG", 100000, 100000));
        CHECK_THROWS_AS(mnet::preprocess_file(bomb, pp, dst.data(), {}, gate), mnet::Error);
        CHECK(gate.entered.empty());
        CHECK(gate.left.empty());
    }
    SECTION("the gate's own exception leaves preprocess_file as it is, with no leave()") {
        gate.refuse = true;
        CHECK_THROWS_WITH(mnet::preprocess_file(write("good.png", png), pp, dst.data(), {}, gate),
                          "refused by the gate");
        CHECK(gate.left.empty());
    }
    fs::remove_all(dir);
}

TEST_CASE("a DCT-scaled JPEG decoding stays close to the reference input, and other formats are unchanged",
          "[unit][preprocess]") {
    // --jpeg-decode scaled is not bit-exact: libjpeg's reduced IDCT then INTER_AREA over fewer pixels is another
    // low-pass filter than INTER_AREA over the full decode. The oracle is the reference input (the canonical
    // preprocessing of the full decode). Bounds in 8-bit pixel steps (|difference| * std): measured on the shared
    // photos (2026-12-06) mean 1.53-2.56 and max 35-60 at 1/2 scale, kite at 1/4 for the 192 input mean 3.66 and
    // max 109 (sharp edges move by up to a pixel); the bounds leave some room above that.
    constexpr double kMaxPixelSteps = 128.0;
    constexpr double kMeanPixelSteps = 5.0;
    const fs::path shared = mnet::test::shared_dir();
    const fs::path reference_dir = shared / "testdata" / "reference";
    struct NoGate final : mnet::DecodeGate {
        void enter(int64_t) override {}
        void leave(int64_t) override {}
    } gate;
    int jpegs = 0, others = 0;
    for (const auto& entry : fs::directory_iterator(reference_dir)) {
        if (!entry.is_directory() || !fs::exists(entry.path() / "reference.json")) continue;
        const auto doc = nlohmann::json::parse(mnet::test::read_file_bytes((entry.path() / "reference.json").string()));
        const auto& p = doc.at("preprocessing");
        const float std_dev = p.at("std").get<float>();
        const Preprocess pp = make_pp(p.at("input_h").get<int>(), p.at("input_w").get<int>(),
                                      p.at("crop").get<double>(), p.at("mean").get<float>(), std_dev);
        for (const auto& image : doc.at("images")) {
            const std::string file = image.at("file").get<std::string>();
            const std::string path = (shared / file.substr(std::strlen("shared/"))).string();
            const std::string stem = image.at("stem").get<std::string>();
            CAPTURE(entry.path().filename().string(), stem);
            const auto expected = mnet::test::read_f32_file((entry.path() / (stem + ".input.f32")).string());
            std::vector<float> got(expected.size());
            mnet::preprocess_file(path, pp, got.data(), {}, gate, mnet::JpegDecoding::DctScaled);
            if (path.size() < 4 || path.compare(path.size() - 4, 4, ".jpg") != 0) {
                CHECK(first_mismatch(got, expected) < 0);
                ++others;
                continue;
            }
            double max_steps = 0.0, sum_steps = 0.0;
            for (size_t i = 0; i < got.size(); ++i) {
                const double steps = std::fabs(static_cast<double>(got[i]) - expected[i]) * std_dev;
                max_steps = std::max(max_steps, steps);
                sum_steps += steps;
            }
            const double mean_steps = sum_steps / static_cast<double>(got.size());
            INFO("max " << max_steps << " mean " << mean_steps << " pixel steps");
            CHECK(max_steps <= kMaxPixelSteps);
            CHECK(mean_steps <= kMeanPixelSteps);
            CHECK(max_steps > 0.0);  // it did take the scaled path: every shared JPEG is at least twice the input
            ++jpegs;
        }
    }
    CHECK(jpegs == 15);
    CHECK(others == 10);
}
