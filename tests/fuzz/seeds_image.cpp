// SPDX-License-Identifier: Apache-2.0
// Small copies of a real photo in every format and pixel layout OpenCV writes, for the image fuzz seeds: the
// photos themselves are JPEG and PNG only, while the front end sniffs declared sizes from BMP, WebP, TIFF and
// PNM/PFM headers too, and decodes gray, alpha and 16-bit images differently.
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <stdexcept>

#include "seeds_internal.h"

namespace mnet::fuzz {

namespace {

// Small enough that a mutated copy decodes in microseconds, large enough for multi-block JPEG scans.
constexpr int kVariantWidth = 40;
constexpr int kVariantHeight = 30;
constexpr int kJpegQuality = 90;
constexpr double k8To16Bits = 257.0;  // 255 * 257 = 65535

struct Variant {
    const char* suffix;  // the seed file name's tail, and the encoder OpenCV picks by extension
    int channels;        // 1 gray, 3 BGR, 4 BGRA
    int depth;           // CV_8U, CV_16U or CV_32F
    std::vector<int> params;
};

}  // namespace

std::vector<std::pair<std::string, std::string>> image_variants(const std::string& bytes, const std::string& what) {
    const cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
    const cv::Mat photo = cv::imdecode(encoded, cv::IMREAD_COLOR);
    if (photo.empty()) throw std::runtime_error("fuzz seeds: " + what + ": OpenCV cannot decode it");
    cv::Mat small;
    cv::resize(photo, small, cv::Size(kVariantWidth, kVariantHeight), 0, 0, cv::INTER_AREA);

    const std::vector<Variant> variants = {
        {".png", 3, CV_8U, {}},
        {".gray.png", 1, CV_8U, {}},
        {".alpha.png", 4, CV_8U, {}},
        {".16bit.png", 3, CV_16U, {}},
        {".jpg", 3, CV_8U, {cv::IMWRITE_JPEG_QUALITY, kJpegQuality}},
        {".gray.jpg", 1, CV_8U, {}},
        {".progressive.jpg", 3, CV_8U, {cv::IMWRITE_JPEG_PROGRESSIVE, 1}},
        {".bmp", 3, CV_8U, {}},
        {".webp", 3, CV_8U, {cv::IMWRITE_WEBP_QUALITY, kJpegQuality}},
        {".lossless.webp", 3, CV_8U, {cv::IMWRITE_WEBP_QUALITY, 101}},  // above 100 selects lossless
        {".tiff", 3, CV_8U, {}},
        {".ppm", 3, CV_8U, {}},
        {".pgm", 1, CV_8U, {}},
        {".pfm", 3, CV_32F, {}},
    };
    std::vector<std::pair<std::string, std::string>> out;
    for (const Variant& v : variants) {
        const std::string suffix(v.suffix);
        const std::string ext = suffix.substr(suffix.rfind('.'));
        if (!cv::haveImageWriter(ext)) continue;  // an OpenCV built without this codec
        cv::Mat img;
        if (v.channels == 1) cv::cvtColor(small, img, cv::COLOR_BGR2GRAY);
        else if (v.channels == 4) cv::cvtColor(small, img, cv::COLOR_BGR2BGRA);
        else img = small;
        if (v.depth == CV_16U) img.convertTo(img, CV_16U, k8To16Bits);
        if (v.depth == CV_32F) img.convertTo(img, CV_32F, 1.0 / 255);
        std::vector<uchar> buf;
        if (!cv::imencode(ext, img, buf, v.params)) throw std::runtime_error("fuzz seeds: cannot encode " + ext);
        out.emplace_back(v.suffix, std::string(buf.begin(), buf.end()));
    }
    return out;
}

}  // namespace mnet::fuzz
