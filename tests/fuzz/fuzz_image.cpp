// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the image front end (src/preprocess), bytes -> decode -> crop, resize and normalise, with the
// default limits: a declared size above kDefaultMaxImagePixels must be refused before OpenCV allocates it (run
// with -rss_limit_mb=2048 so a decompression bomb that gets through shows up as an out-of-memory finding).
// Input: an image file's bytes, any format OpenCV reads.
// Every input must end in a tensor or an mnet::Error; any other exception escapes and aborts the run.
#include <cstdint>
#include <vector>

#include "mnet/error.h"
#include "mnet/image.h"

namespace {

// MobileNet's usual input and TF-slim's evaluation crop, as the converted TFLite models state them.
constexpr int kSide = 224;
constexpr double kCrop = 0.875;
constexpr float kPixelMean = 127.5f;
constexpr float kPixelStd = 127.5f;

mnet::Preprocess make_preprocess() {
    mnet::Preprocess pp;
    pp.height = kSide;
    pp.width = kSide;
    pp.crop = kCrop;
    pp.mean = {kPixelMean, kPixelMean, kPixelMean};
    pp.std = {kPixelStd, kPixelStd, kPixelStd};
    return pp;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const mnet::Preprocess pp = make_preprocess();
    static std::vector<float> dst(3 * kSide * kSide);
    try {
        mnet::preprocess_bytes(data, size, pp, dst.data(), "fuzz-image");
    } catch (const mnet::Error&) {
        // A clean rejection.
    }
    return 0;
}
