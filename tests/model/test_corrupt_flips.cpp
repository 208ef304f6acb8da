// SPDX-License-Identifier: Apache-2.0
// Seeded random byte flips over the manifest text and the weights file, of the real model and the small one. Every
// flip either loads (and then one inference runs, finite output or not) or throws mnet::Error; anything else is a
// failure. The sweeps over the real model are time-boxed so the suite stays well under a minute on two cores.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <random>

#include "model/corrupt_support.h"
#include "model/manifest.h"
#include "model/weight_file.h"

using namespace mnet;
using namespace mnet::test;

namespace {

constexpr uint32_t kSeed = 0x6d6e6574;  // "mnet"
constexpr int kFlips = 300;

struct Sweep {
    const char* what;
    double budget_s;  // time box; the sweep stops early (and says so) when it runs out
    int done = 0, loaded = 0, rejected = 0;
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();

    bool more() const {
        const double spent = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return done < kFlips && spent < budget_s;
    }
    void check(const std::string& manifest, const std::vector<uint8_t>& weights) {
        ++done;
        const Outcome o = load_outcome(manifest, weights);
        if (o.loaded) {
            ++loaded;
            require_runs(o.model);
        } else {
            ++rejected;
            INFO("message: " << o.message);
            CHECK((o.code == ErrorCode::ModelFormat || o.code == ErrorCode::Unsupported));
            CHECK_THAT(o.message, Catch::Contains(kWhere));
        }
    }
    ~Sweep() {
        std::printf("flip sweep %s: %d flips (%d loaded and ran, %d rejected)%s\n", what, done, loaded, rejected,
                    done < kFlips ? ", stopped by its time box" : "");
    }
};

// Replaces the byte at a random position with a different random value.
size_t flip(std::mt19937& rng, std::string& bytes, size_t from = 0) {
    const size_t at = from + rng() % (bytes.size() - from);
    bytes[at] = static_cast<char>(static_cast<uint8_t>(bytes[at]) ^ (1 + rng() % 255));
    return at;
}

void manifest_sweep(const ModelFiles& base, Sweep& sweep) {
    std::mt19937 rng(kSeed);
    while (sweep.more()) {
        std::string text = base.manifest;
        const size_t at = flip(rng, text);
        CAPTURE(sweep.done, at, text.substr(at < 40 ? 0 : at - 40, 80));
        sweep.check(text, base.weights);
    }
    CHECK(sweep.rejected > 0);
}

// Flips in the weights with the manifest's size and checksum restated, so that the flip meets the header and
// tensor checks, or the executor, rather than the checksum.
void weights_sweep(const ModelFiles& base, Sweep& sweep) {
    std::mt19937 rng(kSeed + 1);
    json j = parse(base);
    std::vector<uint8_t> weights = base.weights;  // flipped and restored in place: the real one is 10 MB
    while (sweep.more()) {
        // Half the flips in the 64-byte header, half anywhere.
        const size_t at = sweep.done % 2 == 0 ? rng() % 64 : rng() % weights.size();
        weights[at] = static_cast<uint8_t>(weights[at] ^ (1 + rng() % 255));
        CAPTURE(sweep.done, at);
        j["weights"]["crc32c"] = checksum_hex({ChecksumKind::Crc32c, crc32c(weights.data(), weights.size())});
        sweep.check(j.dump(1), weights);
        weights[at] = base.weights[at];
    }
    CHECK(sweep.loaded > 0);
    CHECK(sweep.rejected > 0);
}

}  // namespace

TEST_CASE("byte flips in the small model's manifest", "[model][corrupt][flips]") {
    Sweep sweep{"small manifest", 20.0};
    manifest_sweep(small_model(), sweep);
    CHECK(sweep.done == kFlips);
}

TEST_CASE("byte flips in the small model's weights", "[model][corrupt][flips]") {
    Sweep sweep{"small weights", 20.0};
    weights_sweep(small_model(), sweep);
    CHECK(sweep.done == kFlips);
}

TEST_CASE("byte flips in the real model's manifest", "[model][corrupt][flips][slow]") {
    Sweep sweep{"real manifest", 10.0};
    manifest_sweep(real_model(), sweep);
    CHECK(sweep.done >= 30);  // about 300 in a Release build, fewer under sanitizers or load
}

TEST_CASE("byte flips in the real model's weights", "[model][corrupt][flips][slow]") {
    const ModelFiles& real = real_model();
    // As stored: the header checks or the checksum catch every flip.
    {
        Sweep sweep{"real weights, manifest unchanged", 4.0};
        std::mt19937 rng(kSeed + 2);
        std::vector<uint8_t> weights = real.weights;
        while (sweep.more()) {
            // Every header byte first, then anywhere.
            const size_t at = sweep.done < 16 ? static_cast<size_t>(sweep.done) : rng() % weights.size();
            weights[at] = static_cast<uint8_t>(weights[at] ^ (1 + rng() % 255));
            CAPTURE(at);
            const Outcome o = load_outcome(real.manifest, weights);
            ++sweep.done;
            ++sweep.rejected;
            const bool version_or_bom = at >= 8 && at < 16;
            require_rejected(o, version_or_bom ? ErrorCode::Unsupported : ErrorCode::ModelFormat,
                             at < 8    ? "bad magic"
                             : at < 12 ? "weights version"
                             : at < 16 ? "byte-order mark"
                             : at < 64 ? "bytes 16-63 are reserved"
                                       : "checksum mismatch");
            weights[at] = real.weights[at];
        }
        CHECK(sweep.done >= 16);  // every header byte
    }
    Sweep sweep{"real weights, checksum restated", 8.0};
    weights_sweep(real, sweep);
    CHECK(sweep.done >= 10);
}
