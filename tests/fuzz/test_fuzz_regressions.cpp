// SPDX-License-Identifier: Apache-2.0
// A fuzz target run as an ordinary test (built without libFuzzer, linked with the target's own source): every seed
// built from the real files and every committed reproducer in regressions/<target>/ must go through the target
// without a crash and end in success or an mnet::Error. The target lets any other exception escape, which fails
// the CHECK below and names the input. Nor may an input take the process past the fuzzers' memory limit: a normal
// build has no malloc limit, so an input that makes the code allocate and fill gigabytes before refusing it would
// otherwise still pass.
#include <catch2/catch.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <filesystem>

#include "fuzz_support.h"
#include "seeds.h"
#include "support/test_data.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

// tools/fuzz.sh's -rss_limit_mb.
constexpr long kMaxPeakRssMb = 2048;

long peak_rss_mb() {
    struct rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    constexpr long kKbPerMb = 1024;
    return usage.ru_maxrss / kKbPerMb;  // Linux reports kilobytes
}

void run_target(const std::string& bytes) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

}  // namespace

TEST_CASE("fuzz " MNET_FUZZ_TARGET ": every seed built from the real files", "[fuzz]") {
    const std::vector<mnet::fuzz::Seed> seeds = mnet::fuzz::make_seeds(MNET_FUZZ_TARGET, mnet::test::shared_dir());
    for (const mnet::fuzz::Seed& seed : seeds) {
        CAPTURE(seed.name, seed.bytes.size());
        CHECK_NOTHROW(run_target(seed.bytes));
        CHECK(peak_rss_mb() <= kMaxPeakRssMb);
    }
}

TEST_CASE("fuzz " MNET_FUZZ_TARGET ": every committed reproducer", "[fuzz]") {
    const fs::path dir = fs::path(MNET_SOURCE_DIR) / "tests" / "fuzz" / "regressions" / MNET_FUZZ_TARGET;
    std::vector<fs::path> files;
    if (fs::is_directory(dir)) {
        for (const auto& entry : fs::directory_iterator(dir)) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
        CAPTURE(file.string());
        const std::vector<uint8_t> bytes = mnet::test::read_file_bytes(file.string());
        CHECK_NOTHROW(run_target(std::string(bytes.begin(), bytes.end())));
        CHECK(peak_rss_mb() <= kMaxPeakRssMb);
    }
}

// The input splitting every target shares: tested once, in the first target's executable.
#ifdef MNET_FUZZ_SUPPORT_TESTS
TEST_CASE("fuzz inputs: split_parts undoes join_parts, and missing parts are empty", "[fuzz][unit]") {
    const std::string joined = mnet::fuzz::join_parts({"{\"a\": 1}", "", std::string("\0bin\0", 5)});
    const auto* data = reinterpret_cast<const uint8_t*>(joined.data());
    CHECK(mnet::fuzz::split_parts(data, joined.size(), 3) ==
          std::vector<std::string>{"{\"a\": 1}", "", std::string("\0bin\0", 5)});
    CHECK(mnet::fuzz::split_parts(data, 0, 2) == std::vector<std::string>{"", ""});
    const std::string no_separator = "{}";
    CHECK(mnet::fuzz::split_parts(reinterpret_cast<const uint8_t*>(no_separator.data()), 2, 3) ==
          std::vector<std::string>{"{}", "", ""});
}
#endif
