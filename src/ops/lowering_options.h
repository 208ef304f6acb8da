// SPDX-License-Identifier: Apache-2.0
// Switches for comparing fused with unfused execution (tests, and profile/bench's --no-fuse-dw A/B runs through
// runtime/session_factory.h). Everything is on in a normal Session; none of them is public API.
#pragma once

namespace mnet {

struct LoweringOptions {
    bool fuse_add = true;         // sum a convolution into the residual it is added to (oneDNN sum post-op)
    bool fuse_activation = true;  // run an activation node as post-ops of the op before it
    // A quantized model's classifier, at batch <= 4, reads its 8-bit weight integers rather than their float
    // values: the same weights in a quarter of the memory traffic (src/ops/u8_gemv.h). Not a fusion.
    bool u8_classifier = true;
    // Fuse a pointwise 1x1 convolution with the depthwise one after it (oneDNN append_dw) where a real kernel
    // exists.
    bool fuse_dw = true;
};

}  // namespace mnet
