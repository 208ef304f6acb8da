// SPDX-License-Identifier: Apache-2.0
// The machine's practical fp32 peak: what oneDNN's best convolution kernel reaches here. `mnet bench` reports
// achieved GFLOP/s as a share of it, which says more than a share of the datasheet FMA rate would (no kernel
// reaches that, and turbo clocks under all-core load are rarely published).
#include <dnnl.hpp>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "mnet/bench.h"
#include "mnet/error.h"
#include "ops/plan.h"

namespace mnet {

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

// A large pointwise convolution: the shape of MobileNet's widest 1x1 layers, batched so that each thread gets
// many full output blocks. oneDNN's jit_1x1 kernel runs it at its best register blocking; with `any` layouts it
// picks the blocked channel layout (nChw8c on AVX2, nChw16c on AVX-512) and needs no reorder.
constexpr memory::dim kBatch = 8;
constexpr memory::dim kChannels = 256;
constexpr memory::dim kSide = 56;
constexpr int kWarmupRuns = 2;  // the first run pays for page faults and cold caches
constexpr int kMinTimedRuns = 3;

// Restores the caller's OpenMP thread count: the Plan sets its own before every run, others may not.
class OmpThreadsGuard {
public:
    explicit OmpThreadsGuard(int threads) : saved_(omp_get_max_threads()) { omp_set_num_threads(threads); }
    ~OmpThreadsGuard() { omp_set_num_threads(saved_); }
    OmpThreadsGuard(const OmpThreadsGuard&) = delete;
    OmpThreadsGuard& operator=(const OmpThreadsGuard&) = delete;

private:
    int saved_;
};

void fill(memory& mem, float value) {
    // Any normal value will do: timing does not depend on the data, but denormals or NaNs could.
    if (mem.get_desc().data_type() == dt::bf16) {  // bf16 is the upper half of the f32 bit pattern
        uint32_t bits = 0;
        std::memcpy(&bits, &value, sizeof bits);
        auto* p = static_cast<uint16_t*>(mem.get_data_handle());
        std::fill(p, p + mem.get_desc().get_size() / sizeof(uint16_t), static_cast<uint16_t>(bits >> 16));
        return;
    }
    if (mem.get_desc().data_type() != dt::f32) {
        // Integers: a small value, the same in u8 and s8. (Weight reorders may append compensation, left as is.)
        auto* p = static_cast<int8_t*>(mem.get_data_handle());
        std::fill(p, p + mem.get_desc().get_size(), int8_t{1});
        return;
    }
    auto* p = static_cast<float*>(mem.get_data_handle());
    std::fill(p, p + mem.get_desc().get_size() / sizeof(float), value);
}

// The convolution in fp32 or bf16 (layouts of oneDNN's choosing; f32 bias), or in int8 (act_type u8): u8
// activations in NHWC and s8 weights, the form int8 sessions run (see lowering_int8.cpp).
double measure(int threads, double seconds, dt act_type) {
    const bool int8 = act_type == dt::u8;
    using clock = std::chrono::steady_clock;
    const int nthr = threads > 0 ? threads : omp_get_max_threads();
    // oneDNN sizes its work split by the OpenMP thread count when the primitive is created, so set it first.
    OmpThreadsGuard guard(nthr);

    dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    dnnl::stream stream(engine);
    const memory::dims src_dims = {kBatch, kChannels, kSide, kSide};
    const memory::dims weights_dims = {kChannels, kChannels, 1, 1};
    const memory::dims bias_dims = {kChannels};
    const memory::dims strides = {1, 1};
    const memory::dims padding = {0, 0};
    const tag act_tag = int8 ? tag::nhwc : tag::any;
    const memory::desc src_md(src_dims, act_type, act_tag);
    const memory::desc weights_md(weights_dims, int8 ? dt::s8 : act_type, tag::any);
    const memory::desc bias_md(bias_dims, dt::f32, tag::a);
    const memory::desc dst_md(src_dims, act_type, act_tag);
    const dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                               src_md, weights_md, bias_md, dst_md, strides, padding, padding);
    dnnl::primitive_attr attr;
    if (int8) attr.set_output_scales(1 << 1, std::vector<float>(kChannels, 1.0f / kChannels));  // as sessions do
    const dnnl::convolution_forward::primitive_desc pd(desc, attr, engine);

    memory src(pd.src_desc(), engine);
    memory weights(pd.weights_desc(), engine);
    memory bias(pd.bias_desc(), engine);
    memory dst(pd.dst_desc(), engine);
    fill(src, 0.5f);
    fill(weights, 1.0f / static_cast<float>(kChannels));
    fill(bias, 0.0f);
    const dnnl::convolution_forward conv(pd);
    const std::unordered_map<int, memory> args = {
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, dst}};

    for (int i = 0; i < kWarmupRuns; ++i) conv.execute(stream, args);
    stream.wait();

    std::vector<double> times;
    const auto start = clock::now();
    while (static_cast<int>(times.size()) < kMinTimedRuns ||
           std::chrono::duration<double>(clock::now() - start).count() < seconds) {
        const auto t0 = clock::now();
        conv.execute(stream, args);
        stream.wait();
        times.push_back(std::chrono::duration<double>(clock::now() - t0).count());
    }
    // The median: one run slowed by another process on a shared machine must not move the yardstick.
    std::sort(times.begin(), times.end());
    const size_t n = times.size();
    const double median = n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
    const double macs = static_cast<double>(kBatch * kSide * kSide * kChannels * kChannels);
    return 2.0 * macs / median * 1e-9;
}

}  // namespace

double measure_fp32_peak_gflops(int threads, double seconds) {
    if (threads < 0) throw Error(ErrorCode::InvalidArgument, "measure_fp32_peak_gflops: threads must be >= 0");
    if (!(seconds >= 0.0)) throw Error(ErrorCode::InvalidArgument, "measure_fp32_peak_gflops: seconds must be >= 0");
    try {
        return measure(threads, seconds, dt::f32);
    } catch (const dnnl::error& e) {
        throw Error(ErrorCode::Backend, std::string("oneDNN: peak measurement: ") + e.what());
    }
}

double measure_int8_peak_gops(int threads, double seconds) {
    if (threads < 0) throw Error(ErrorCode::InvalidArgument, "measure_int8_peak_gops: threads must be >= 0");
    if (!(seconds >= 0.0)) throw Error(ErrorCode::InvalidArgument, "measure_int8_peak_gops: seconds must be >= 0");
    try {
        return measure(threads, seconds, dt::u8);
    } catch (const dnnl::error& e) {
        throw Error(ErrorCode::Backend, std::string("oneDNN: int8 peak measurement: ") + e.what());
    }
}

double measure_bf16_peak_gflops(int threads, double seconds) {
    if (threads < 0) throw Error(ErrorCode::InvalidArgument, "measure_bf16_peak_gflops: threads must be >= 0");
    if (!(seconds >= 0.0)) throw Error(ErrorCode::InvalidArgument, "measure_bf16_peak_gflops: seconds must be >= 0");
    if (!bf16_kernels()) return 0.0;
    try {
        return measure(threads, seconds, dt::bf16);
    } catch (const dnnl::error& e) {
        throw Error(ErrorCode::Backend, std::string("oneDNN: bf16 peak measurement: ") + e.what());
    }
}

}  // namespace mnet
