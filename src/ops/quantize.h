// SPDX-License-Identifier: Apache-2.0
// The integer arithmetic of int8 execution that does not depend on oneDNN: weights re-quantized to symmetric
// per-channel s8, and activation parameters from a range. Used by the int8 lowering and by calibration.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "model/model_def.h"

namespace mnet {

// Largest |q| of a symmetric s8 weight: -128 is left out so that every channel's range is symmetric.
constexpr int kWeightQMax = 127;

// oneDNN's int8 convolutions on AVX2 and AVX-512 without VNNI multiply u8 activations by s8 weights with
// vpmaddubsw, which adds the products of input channels 2j and 2j+1 into a saturating int16. With activations up
// to 255 such a pair is exact only while the sum of its same-signed |q| is at most 32767 / 255 = 128.5; 127
// leaves one step for rounding (each of the two may round up by half a step).
constexpr int kPairQMax = 127;

struct QuantizedWeights {
    std::vector<int8_t> values;  // same layout as the float weights: [OC, IC/groups, KH, KW]
    std::vector<float> scales;   // per output channel: weight = values * scale
    int64_t exact_channels = 0;  // channels kept on the source model's own integer grid
};

// Re-quantizes float convolution weights `w` ([OC, ICG, KH, KW]) to s8, one scale per output channel.
// A channel whose values are integers times the source model's scale (`source`: per tensor or per channel along
// axis 0) that fit s8 ([-128, 127]) and the pair limit keeps that scale, so the integers are the source's own;
// any other channel gets scale = max(max|w| / 127, worst same-signed pair / 127). Pairs (input channels 2j, 2j+1 at one kernel tap) are
// limited when `pair_limited` (every convolution but depthwise, see kPairQMax).
// `w` holds `count` = OC * ICG * KH * KW values (the lowering passes the weights file's bytes in place: a copy of
// V2's 14 MB of weights cost a memset, a memcpy and ~3,400 page faults per session).
QuantizedWeights quantize_weights(const float* w, size_t count, const std::optional<QuantParams>& source, int64_t OC,
                                  int64_t ICG, int64_t KH, int64_t KW, bool pair_limited);

// Asymmetric u8 parameters covering [lo, hi] (widened to contain 0, so that 0 is exact: zero padding and ReLU
// outputs stay exact), as TensorFlow Lite's converter chooses them: scale = (hi - lo) / 255, zero point the
// rounded -lo / scale.
QuantParams u8_params_for_range(float lo, float hi);

}  // namespace mnet
