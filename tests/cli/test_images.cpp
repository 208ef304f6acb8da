// SPDX-License-Identifier: Apache-2.0
// The bad-input image suite through the mnet command (issue 7): every bad file is one clean line naming it and
// what is wrong, with status 1 and never a crash or a decoder library's chatter; every valid but unusual file
// (16-bit, alpha, palette, grey, CMYK, EXIF-rotated) gets the prediction of the equivalent plain image.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "cli/test_batch_support.h"
#include "support/test_data.h"
#include "unit/image_fixtures.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace mnet::test {
namespace {

// Signs of a crash or of a sanitizer report in a child's stderr.
void check_no_crash(const RunResult& r) {
    CHECK(r.status < 128);
    for (const char* sign : {"Sanitizer", "runtime error", "terminate called", "Segmentation", "Aborted"}) {
        CHECK(r.err.find(sign) == std::string::npos);
    }
}

struct BadFile {
    std::string name;    // file name in the folder
    std::string reason;  // what the message must say after "<path>: "
};

// The bad files, built in `dir` from the shared photos and by hand.
std::vector<BadFile> make_bad_files(const std::string& dir) {
    const Bytes dog = read_file_bytes(shared_photos().at("dog"));
    const Bytes chelsea = read_file_bytes(shared_photos().at("chelsea"));
    auto put = [&](const std::string& name, const Bytes& bytes) { write_file_bytes(dir + "/" + name, bytes); };
    put("empty.jpg", {});
    put("empty.png", {});
    write_text_file(dir + "/notes.jpg", "hello, this is a text file with a photo's name\n");
    write_text_file(dir + "/page.png", "<!DOCTYPE html><html><body>404 Not Found</body></html>\n");
    put("truncated.jpg", Bytes(dog.begin(), dog.begin() + static_cast<long>(dog.size() / 2)));
    put("headers_only.jpg", Bytes(dog.begin(), dog.begin() + 200));  // cut before the frame header
    Bytes sof3 = dog;  // SOF0 turned into SOF3 (lossless), which libjpeg 6.2 cannot decode
    for (size_t i = 2; i + 1 < sof3.size(); ++i) {
        if (sof3[i] == 0xFF && sof3[i + 1] == 0xC0) {
            sof3[i + 1] = 0xC3;
            break;
        }
    }
    put("lossless.jpg", sof3);
    put("truncated.png", Bytes(chelsea.begin(), chelsea.begin() + static_cast<long>(chelsea.size() / 2)));
    Bytes bad_crc = chelsea;
    bad_crc[19] ^= 1;  // the low byte of the IHDR width: the chunk's CRC no longer matches
    put("bad_crc.png", bad_crc);
    put("bomb.png", bomb_header("PNG", 100000, 100000));
    put("bomb.jpg", bomb_header("JPEG", 60000, 60000));
    put("bomb.tif", bomb_header("BigTIFF", 1u << 20, 1u << 20));
    put("bomb.jp2", bomb_header("JP2", 100000, 100000));
    Bytes dicom(128, 0);
    for (char c : std::string("DICM\x02\x00\x00\x00UL\x04\x00", 12)) dicom.push_back(static_cast<uint8_t>(c));
    put("scan.dcm", dicom);
    cv::Mat small;  // small, so 2000 copies of its last scan stay small
    cv::resize(cv::imread(shared_photos().at("coffee"), cv::IMREAD_COLOR), small, cv::Size(32, 24), 0, 0, cv::INTER_AREA);
    put("many_scans.jpg",
        with_repeated_last_scan(encode_image(small, ".jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, 1}), 2000));
    fs::create_directory(dir + "/folder.jpg");
    return {
        {"empty.jpg", "cannot decode image (empty file)"},
        {"empty.png", "cannot decode image (empty file)"},
        {"notes.jpg", "cannot decode image (unknown format or corrupt data, starting with \"hello, t\")"},
        {"page.png", "cannot decode image (unknown format or corrupt data, starting with \"<!DOCTYP\")"},
        {"truncated.jpg", "cannot decode image (truncated JPEG: no end-of-image marker)"},
        {"headers_only.jpg", "cannot decode image (corrupt or truncated JPEG header: no image size)"},
        {"lossless.jpg", "cannot decode image (corrupt or truncated JPEG"},
        {"truncated.png", "cannot decode image (corrupt or truncated PNG"},
        {"bad_crc.png", "CRC error"},
        {"bomb.png", "image too large (100000x100000 = 10000000000 pixels, the limit is 100000000)"},
        {"bomb.jpg", "image too large (60000x60000 = 3600000000 pixels, the limit is 100000000)"},
        {"bomb.tif", "image too large (1048576x1048576 = 1099511627776 pixels"},
        {"bomb.jp2", "image too large (100000x100000"},
        {"scan.dcm", "cannot decode image (DICOM files are not supported)"},
        {"many_scans.jpg", "scans, the limit is 1000)"},
        {"folder.jpg", "cannot read image file (is a directory, not a regular file)"},
        {"missing.jpg", "cannot read image file (No such file or directory)"},
    };
}

std::string classify_cmd(const std::string& args) {
    return mnet() + " classify -m " + quote(test_model()) + " " + args;
}

// The predictions of `mnet classify --json` for each file, in order; REQUIREs success.
std::vector<json> predictions_of(const std::vector<std::string>& files) {
    std::string args = "--json -k 5";
    for (const std::string& f : files) args += " " + quote(f);
    const RunResult r = run_shell(classify_cmd(args));
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.err.empty());  // not even a libpng warning
    const auto lines = lines_of(r.out);
    REQUIRE(lines.size() == files.size());
    std::vector<json> out;
    for (size_t i = 0; i < lines.size(); ++i) {
        const json j = json::parse(lines[i]);
        REQUIRE(j.at("file") == files[i]);
        out.push_back(j.at("predictions"));
    }
    return out;
}

}  // namespace

TEST_CASE("classify: each bad image is one clean line naming it and what is wrong, status 1", "[cli][images][slow]") {
    const std::string dir = make_temp_dir("cli-bad-images");
    const std::vector<BadFile> bad = make_bad_files(dir);
    for (const BadFile& b : bad) {
        const std::string path = dir + "/" + b.name;
        const RunResult r = run_shell(classify_cmd(quote(path)));
        CAPTURE(b.name, r.err);
        check_no_crash(r);
        CHECK(r.status == 1);  // some inputs failed
        CHECK(r.out.empty());
        REQUIRE(lines_of(r.err).size() == 1);
        const std::string expected_start = "mnet: error: " + path + ": ";
        CHECK(r.err.compare(0, expected_start.size(), expected_start) == 0);
        CHECK(r.err.find(b.reason) != std::string::npos);
    }

    SECTION("--json: one error record per file, in order, and the same one line each on stderr") {
        std::string args = "--json";
        for (const BadFile& b : bad) args += " " + quote(dir + "/" + b.name);
        const RunResult r = run_shell(classify_cmd(args));
        check_no_crash(r);
        CHECK(r.status == 1);
        const auto lines = lines_of(r.out);
        REQUIRE(lines.size() == bad.size());
        CHECK(lines_of(r.err).size() == bad.size());
        for (size_t i = 0; i < bad.size(); ++i) {
            const json j = json::parse(lines[i]);
            CHECK(j.at("file") == dir + "/" + bad[i].name);
            CHECK(j.at("error").get<std::string>().find(bad[i].reason) != std::string::npos);
        }
    }
}

TEST_CASE("batch: a folder of bad images gives one record each and only mnet's lines on stderr", "[cli][images]") {
    const std::string dir = make_temp_dir("cli-bad-batch");
    const std::vector<BadFile> bad = make_bad_files(dir);
    copy_file(shared_photos().at("chelsea"), dir + "/good.png");
    const RunResult r = run_shell(mnet() + " batch -m " + quote(test_model()) + " --all-files " + quote(dir));
    check_no_crash(r);
    CHECK(r.status == 1);
    std::map<std::string, json> records;
    for (const std::string& line : lines_of(r.out)) {
        const json j = json::parse(line);
        records[fs::path(j.at("file").get<std::string>()).filename().string()] = j;
    }
    // Everything but the missing file (never created) and the folder (not a file) is listed.
    CHECK(records.size() == bad.size() - 2 + 1);
    REQUIRE(records.count("good.png") == 1);
    CHECK(records.at("good.png").contains("predictions"));
    for (const BadFile& b : bad) {
        if (b.name == "missing.jpg" || b.name == "folder.jpg") continue;
        CAPTURE(b.name);
        REQUIRE(records.count(b.name) == 1);
        CHECK(records.at(b.name).at("error").get<std::string>().find(b.reason) != std::string::npos);
    }
    for (const std::string& line : lines_of(r.err)) {
        INFO(line);
        CHECK(line.rfind("mnet: ", 0) == 0);  // no "libpng error:" or "Corrupt JPEG data:" lines
    }
}

TEST_CASE("classify, batch and eval take their decompression-bomb limit from --max-pixels", "[cli][images][slow]") {
    const std::string dir = make_temp_dir("cli-max-pixels");
    const std::string photo = dir + "/Egyptian cat/chelsea.png";  // a class folder for eval
    copy_file(shared_photos().at("chelsea"), photo);
    const cv::Mat img = cv::imread(photo, cv::IMREAD_COLOR);
    const long pixels = static_cast<long>(img.rows) * img.cols;
    const std::string dims = std::to_string(img.cols) + "x" + std::to_string(img.rows);
    const std::string below = " --max-pixels " + std::to_string(pixels - 1) + " ";
    const std::string exact = " --max-pixels " + std::to_string(pixels) + " ";
    const std::string too_large = "image too large (" + dims + " = " + std::to_string(pixels) +
                                  " pixels, the limit is " + std::to_string(pixels - 1) + ")";

    const RunResult c = run_shell(classify_cmd(below + quote(photo)));
    CHECK(c.status == 1);
    CHECK(c.err.find(photo + ": " + too_large) != std::string::npos);
    CHECK(run_shell(classify_cmd(exact + quote(photo))).status == 0);

    const std::string batch = mnet() + " batch -q -m " + quote(test_model());
    const RunResult b = run_shell(batch + below + quote(photo));
    CHECK(b.status == 1);
    CHECK(b.out.find(too_large) != std::string::npos);
    CHECK(run_shell(batch + exact + quote(photo)).status == 0);

    const std::string eval = mnet() + " eval -q -m " + quote(test_model());
    const RunResult e = run_shell(eval + below + quote(dir));
    CHECK(e.status == 1);
    CHECK(e.out.find("1 failed") != std::string::npos);
    CHECK(e.out.find(too_large) != std::string::npos);
    CHECK(run_shell(eval + exact + quote(dir)).status == 0);

    for (const std::string bad : {"0", "lots"}) {
        const RunResult u = run_shell(classify_cmd("--max-pixels " + bad + " " + quote(photo)));
        CAPTURE(bad, u.err);
        CHECK(u.status == 2);
        CHECK(u.err.find("--max-pixels") != std::string::npos);
    }
    CHECK(run_shell(classify_cmd("--max-pixels -5 " + quote(photo))).status == 2);
}

TEST_CASE("16-bit, alpha, palette, grey and CMYK images get the prediction of the plain image", "[cli][images]") {
    const std::string dir = make_temp_dir("cli-formats");
    const cv::Mat photo = cv::imread(shared_photos().at("chelsea"), cv::IMREAD_COLOR);
    auto write = [&](const std::string& name, const Bytes& bytes) {
        write_file_bytes(dir + "/" + name, bytes);
        return dir + "/" + name;
    };
    const std::string plain = write("plain.png", encode_image(photo, ".png"));

    // 16-bit: v * 257 has high byte v, and OpenCV keeps the high byte, so the pixels are the plain ones.
    cv::Mat wide;
    photo.convertTo(wide, CV_16UC3, 257.0);
    const std::string png16 = write("wide.png", encode_image(wide, ".png"));
    // Alpha: dropped, never blended, whatever its values.
    cv::Mat alpha(photo.size(), CV_8UC1);
    cv::randu(alpha, 0, 256);
    cv::Mat bgra;
    cv::merge(std::vector<cv::Mat>{photo, alpha}, bgra);
    const std::string rgba = write("alpha.png", encode_image(bgra, ".png"));

    // Palette: the photo cut to a 6x6x6 colour cube, once as palette indices and once as plain RGB.
    std::vector<cv::Vec3b> palette;
    for (int r = 0; r < 6; ++r)
        for (int g = 0; g < 6; ++g)
            for (int b = 0; b < 6; ++b)
                palette.push_back(cv::Vec3b(static_cast<uint8_t>(r * 51), static_cast<uint8_t>(g * 51),
                                            static_cast<uint8_t>(b * 51)));
    cv::Mat index(photo.size(), CV_8UC1), cube(photo.size(), CV_8UC3);
    for (int y = 0; y < photo.rows; ++y)
        for (int x = 0; x < photo.cols; ++x) {
            const cv::Vec3b p = photo.at<cv::Vec3b>(y, x);
            const int b = (p[0] + 25) / 51, g = (p[1] + 25) / 51, r = (p[2] + 25) / 51;
            index.at<uint8_t>(y, x) = static_cast<uint8_t>(r * 36 + g * 6 + b);
            cube.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uint8_t>(b * 51), static_cast<uint8_t>(g * 51),
                                                 static_cast<uint8_t>(r * 51));
        }
    const std::string indexed = write("palette.png", palette_png(index, palette));
    const std::string cube_png = write("cube.png", encode_image(cube, ".png"));

    // Grey: one channel, against the same grey in three equal channels.
    cv::Mat gray, gray3;
    cv::cvtColor(photo, gray, cv::COLOR_BGR2GRAY);
    cv::merge(std::vector<cv::Mat>{gray, gray, gray}, gray3);
    const std::string gray_png = write("gray.png", encode_image(gray, ".png"));
    const std::string gray3_png = write("gray3.png", encode_image(gray3, ".png"));

    const std::string cmyk = write("cmyk.jpg", cmyk_jpeg(photo, false));
    const std::string ycck = write("ycck.jpg", cmyk_jpeg(photo, true));

    const auto p = predictions_of({plain, png16, rgba, indexed, cube_png, gray_png, gray3_png, cmyk, ycck});
    CHECK(p[1] == p[0]);
    CHECK(p[2] == p[0]);
    CHECK(p[3] == p[4]);
    CHECK(p[5] == p[6]);
    // CMYK JPEGs are lossy: the same top class, probabilities close.
    const int64_t top = reference_top5().at("chelsea").at(0).index;
    CHECK(p[0][0].at("index") == top);
    for (size_t i : {7, 8}) {
        CAPTURE(i, p[i].dump());
        CHECK(p[i][0].at("index") == top);
        CHECK(std::abs(p[i][0].at("probability").get<double>() - p[0][0].at("probability").get<double>()) < 0.05);
    }
}

TEST_CASE("an EXIF-rotated photo gets the prediction of the upright photo", "[cli][images]") {
    const std::string dir = make_temp_dir("cli-exif");
    const cv::Mat upright = cv::imread(shared_photos().at("chelsea"), cv::IMREAD_COLOR);
    std::vector<std::string> files;
    for (int orientation = 2; orientation <= 8; ++orientation) {
        // Store the photo so that a viewer applying `orientation` shows it upright (6 and 8 undo each other,
        // the other transforms undo themselves).
        const int inverse = orientation == 6 ? 8 : orientation == 8 ? 6 : orientation;
        const Bytes stored = encode_image(apply_orientation(upright, inverse), ".jpg", {cv::IMWRITE_JPEG_QUALITY, 95});
        const std::string tag = std::to_string(orientation);
        write_file_bytes(dir + "/rotated" + tag + ".jpg", with_exif_orientation(stored, static_cast<uint16_t>(orientation)));
        // The upright picture of the same (lossy) pixels, lossless.
        const cv::Mat shown = apply_orientation(cv::imdecode(stored, cv::IMREAD_COLOR), orientation);
        REQUIRE(shown.size() == upright.size());
        REQUIRE(cv::imwrite(dir + "/upright" + tag + ".png", shown));
        files.push_back(dir + "/rotated" + tag + ".jpg");
        files.push_back(dir + "/upright" + tag + ".png");
    }
    const auto p = predictions_of(files);
    const int64_t top = reference_top5().at("chelsea").at(0).index;
    for (size_t i = 0; i < p.size(); i += 2) {
        CAPTURE(files[i]);
        CHECK(p[i] == p[i + 1]);
        CHECK(p[i][0].at("index") == top);
    }
}

}  // namespace mnet::test
