// SPDX-License-Identifier: Apache-2.0
// Sessions with lowering switches other than the defaults (fusion off, the u8 classifier off): for the tests that
// compare fused with unfused execution and for profile/bench's --no-fuse-dw. Not part of the public API.
#pragma once

#include <memory>

#include "mnet/engine.h"
#include "ops/lowering_options.h"

namespace mnet {

struct SessionFactory {
    static std::unique_ptr<Session> make(std::shared_ptr<const Model> model, const SessionOptions& options,
                                         const LoweringOptions& lowering);
};

}  // namespace mnet
