// SPDX-License-Identifier: Apache-2.0
// Shapes in messages: the one spelling every error and report uses.
#pragma once

#include <string>

#include "mnet/tensor.h"

namespace mnet {

// "[1,3,224,224]".
std::string shape_str(const Shape& s);

}  // namespace mnet
