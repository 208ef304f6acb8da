// SPDX-License-Identifier: Apache-2.0
// mnet: the image front end. Decodes a photo with OpenCV and turns it into a model's input exactly as the
// canonical preprocessing does (testdata/reference/README.md), bit for bit: what `mnet` itself runs, so an
// embedder gets the CLI's numbers. No OpenCV type appears here.
//   Tensor input = mnet::load_image("photo.jpg", model->preprocess());   // then Session::run(input)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "mnet/model.h"
#include "mnet/tensor.h"

namespace mnet {

// 100 megapixels: a 300 MB BGR buffer while decoding, well above any camera photo a classifier needs.
constexpr int64_t kDefaultMaxImagePixels = 100'000'000;
// 1 GiB: the whole file is read into memory before decoding.
constexpr int64_t kDefaultMaxImageFileBytes = int64_t{1} << 30;

// Guards against decompression bombs and huge files. Every format OpenCV 4.6 decodes (JPEG, PNG, BMP, WebP,
// TIFF/BigTIFF, PNM/PAM/PFM, Sun raster, Radiance HDR, OpenEXR, JPEG 2000) has its declared width*height read
// from the file header (image_header.h) and refused before anything is decoded; the decoded size is checked
// again. The CLI sets max_pixels from --max-pixels.
struct ImageLimits {
    int64_t max_pixels = kDefaultMaxImagePixels;         // REQUIRES: > 0
    int64_t max_file_bytes = kDefaultMaxImageFileBytes;  // REQUIRES: > 0
};

// Decodes the image in data[0, size) and writes the model input for it into dst: 3 * pp.height * pp.width
// float32 values, planar CHW, channels in pp.color order. The steps are the README's: decode as OpenCV's
// IMREAD_COLOR does (EXIF orientation applied; gray, palette, alpha and 16-bit images become 8-bit BGR),
// central crop of int(side * pp.crop) pixels per side (at least 1), INTER_AREA resize, then
// (float(pixel) - mean[c]) / std[c] in float32.
// `name_for_errors` names the source in messages (usually its path).
// Throws mnet::Error: Io "<name>: cannot decode image (...)" for empty, truncated, corrupt or unknown data
// (a JPEG without an end-of-image marker counts as truncated, one of more than 1000 scans as corrupt; DICOM,
// which OpenCV could hand to GDCM, is refused), Io "<name>: image too large (...)" past `limits`,
// InvalidArgument for a bad `pp` or `limits`. Never keeps `data` or `dst`; thread-safe.
// REQUIRES: dst has room for 3 * pp.height * pp.width floats.
void preprocess_bytes(const uint8_t* data, size_t size, const Preprocess& pp, float* dst,
                      const std::string& name_for_errors, const ImageLimits& limits = {});

// Reads the file at `path` into memory and runs preprocess_bytes on it, naming `path` in every message
// (Io "<path>: cannot read image file (<reason>)" when it cannot be opened or read).
void preprocess_file(const std::string& path, const Preprocess& pp, float* dst, const ImageLimits& limits = {});

// preprocess_file into a new tensor of shape {1, 3, pp.height, pp.width}.
Tensor load_image(const std::string& path, const Preprocess& pp, const ImageLimits& limits = {});

// preprocess_bytes of an encoded image in memory (a JPEG, PNG, ... file's bytes) into a new tensor of shape
// {1, 3, pp.height, pp.width}; `name_for_errors` names it in messages.
Tensor decode_image(const uint8_t* data, size_t size, const Preprocess& pp,
                    const std::string& name_for_errors = "image", const ImageLimits& limits = {});

// Keeps the image decoders' own stderr chatter (libpng, libjpeg and OpenCV warnings) out of the program's output
// and puts the decoder's last word into the image's error message instead. Process-wide and not reversible:
// replaces the process's `stderr` FILE and std::cerr's buffer with ones that write to file descriptor 2 as
// before, except during a decode. Call it once from main() before any other thread starts, or not at all
// (decoder messages then reach stderr as usual). Returns false, changing nothing, if it cannot be set up.
bool capture_decoder_messages();

}  // namespace mnet
