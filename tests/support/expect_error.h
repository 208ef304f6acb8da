// SPDX-License-Identifier: Apache-2.0
// The one check of an expected failure: fn throws mnet::Error with this code and every part in its message.
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "mnet/error.h"

namespace mnet::test {

template <class F>
void expect_error(F&& fn, ErrorCode code, const std::vector<std::string>& parts) {
    try {
        fn();
        FAIL("no mnet::Error thrown");
    } catch (const Error& e) {
        INFO("message: " << e.what());
        CHECK(e.code() == code);
        for (const std::string& part : parts) CHECK_THAT(e.what(), Catch::Matchers::Contains(part));
    }
}

}  // namespace mnet::test
