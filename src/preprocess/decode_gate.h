// SPDX-License-Identifier: Apache-2.0
// mnet: a hook around the one step of preprocessing whose memory grows with the image, decoding. A caller that
// decodes on several threads passes a gate to bound the decoded pixels held at one time across them (`mnet
// batch`'s decode budget, src/cli/pipeline.cpp): each worker holding its own decoded image would otherwise let
// memory grow with the worker count times the largest image.
#pragma once

#include <cstdint>
#include <string>

#include "mnet/image.h"
#include "mnet/model.h"

namespace mnet {

class DecodeGate {
public:
    virtual ~DecodeGate() = default;
    // Called once the header's declared size has passed the limits and before the decoder allocates anything,
    // with the largest width * height the header declares. May wait; may throw to abandon the image (the
    // exception leaves preprocess_file as it is).
    virtual void enter(int64_t pixels) = 0;
    // Called once the decoded pixels are freed, for every enter that returned, with the same count.
    virtual void leave(int64_t pixels) = 0;
};

// How preprocess_file decodes JPEGs. Exact: as the reference preprocessing (mnet/image.h). DctScaled: at the
// smallest DCT scale that covers the model input (decode_jpeg's `scaled_for`): faster, not bit-exact.
enum class JpegDecoding { Exact, DctScaled };

// preprocess_file (mnet/image.h), passing through `gate` around the decoding.
void preprocess_file(const std::string& path, const Preprocess& pp, float* dst, const ImageLimits& limits,
                     DecodeGate& gate, JpegDecoding jpeg = JpegDecoding::Exact);

}  // namespace mnet
