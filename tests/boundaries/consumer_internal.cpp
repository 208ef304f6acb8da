// SPDX-License-Identifier: Apache-2.0
// A program that links only the library target (mnet::mnet) and reaches for an internal header: must NOT
// compile, because src/ is no include path of the library's users (check_boundaries.cmake expects the failure).
#include <iostream>

#include "ops/plan.h"

int main() {
    std::cout << mnet::Plan::process_threads() << '\n';
}
