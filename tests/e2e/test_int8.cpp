// SPDX-License-Identifier: Apache-2.0
// Int8 execution of the shared quantized MobileNets against reference.json's int8 reference (an activation
// fake-quantization of the same graph) and the float reference, and the kernels oneDNN picks for it.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>

#include <nlohmann/json.hpp>

#include "mnet/engine.h"
#include "mnet/error.h"
#include "graph/loader.h"
#include "runtime/session_factory.h"
#include "shared_models.h"
#include "support/expect_error.h"
#include "support/model_builder.h"
#include "support/test_data.h"

using namespace mnet;
using namespace mnet::test;
namespace fs = std::filesystem;

namespace {

constexpr int kTop = 5;
constexpr int kMinTop5Overlap = 4;         // the bar: at least 4 of the int8 reference's top 5
constexpr double kConfidentFloat = 0.5;   // where the float reference is this sure, int8 must agree with it
constexpr int kLargeBatch = 16;
constexpr double kProbStep = 1.0 / 256;  // the int8 reference's probabilities are u8 with this scale

struct Ranked {
    int64_t index;
    double prob;
};

// reference.json's int8 top-5 per image stem.
std::map<std::string, std::vector<Ranked>> int8_reference(const std::string& model) {
    const fs::path path = fs::path(shared_dir()) / "testdata" / "reference" / model / "reference.json";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("missing " + path.string());
    const nlohmann::json ref = nlohmann::json::parse(in);
    std::map<std::string, std::vector<Ranked>> out;
    for (const auto& img : ref.at("images")) {
        std::vector<Ranked> top;
        for (const auto& t : img.at("top5_int8_ref")) top.push_back({t.at("index").get<int64_t>(), t.at("prob").get<double>()});
        out[img.at("stem").get<std::string>()] = top;
    }
    return out;
}

std::vector<int64_t> ranking(const float* p, size_t n) {
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return p[a] > p[b]; });
    return order;
}

// The scale of the logits: the quantization of the softmax's input.
double logit_step(const Model& model) {
    const ModelDef& def = model_impl(model).def;
    for (const NodeDef& n : def.nodes) {
        if (n.op != "softmax") continue;
        for (const NodeDef& p : def.nodes) {
            if (p.output == n.inputs[0] && p.dst_quant) return p.dst_quant->scale[0];
        }
    }
    throw std::runtime_error(model.path() + ": no quantized softmax input");
}

SessionOptions int8_options(int batch = 1) {
    SessionOptions o;
    o.batch = batch;
    o.precision = Precision::Int8;
    return o;
}

}  // namespace

TEST_CASE("int8: shared TFLite models agree with the int8 and float references", "[e2e][int8]") {
    // A model whose work lies in the band where a session asked for threads = 0 times a one-thread and a budget
    // plan (V3-small) is checked with each plan kept: the timings are given, the faster plan's 0.5 ms to 1 ms.
    const bool one_thread_faster = GENERATE(true, false);
    const PlanTimer timer = [&](int threads, const std::function<void()>& run) {
        run();
        return (threads == 1) == one_thread_faster ? 0.5 : 1.0;
    };
    for (const SharedModel& m : shared_tflite_models()) {
        auto model = Model::load(converted_manifest(m));
        REQUIRE(model->has_quantization());
        const std::unique_ptr<Session> made = SessionFactory::make(model, int8_options(), {}, timer);
        Session& session = *made;
        CAPTURE(one_thread_faster, session.options().threads, basis_name(SessionFactory::thread_choice(session).basis));
        const auto int8_ref = int8_reference(m.name);
        const double logit_step = ::logit_step(*model);
        double worst_int8 = 0, worst_float = 0;
        for (const ReferenceImage& img : m.images) {
            CAPTURE(m.name, img.stem);
            Tensor input(model->input_shape());
            input.data = read_f32_file(img.input_path);
            const std::vector<float> float_ref = read_f32_file(img.probs_path);
            session.run(input);
            const Tensor& out = session.output(0);
            REQUIRE(out.data.size() == float_ref.size());
            const auto ours = ranking(out.data.data(), out.data.size());
            const auto theirs = ranking(float_ref.data(), float_ref.size());
            const std::vector<Ranked>& ref = int8_ref.at(img.stem);
            REQUIRE(ref.size() == static_cast<size_t>(kTop));

            // The int8 reference is quantized twice over: its logits are integers (one step = `logit_step`)
            // and its probabilities multiples of 1/256. Two of its classes whose logits differ by at most one
            // step are a near-tie that any other int8 rounding (ours, TFLite's fixed point) may swap, and its own
            // order among equal probabilities is arbitrary.
            auto near = [&](double a, double b) {
                return std::max(a, b) <= std::min(a, b) * std::exp(logit_step) + kProbStep;
            };
            // Top-1: one of our top-1 classes (ties included) is the reference's top-1 or near-tied with it.
            std::set<int64_t> ref_top1, our_top1;
            for (const Ranked& r : ref) {
                if (near(r.prob, ref[0].prob)) ref_top1.insert(r.index);
            }
            for (size_t c = 0; c < out.data.size(); ++c) {
                if (out.data[c] == out.data[ours[0]]) our_top1.insert(static_cast<int64_t>(c));
            }
            bool top1_agrees = false;
            for (int64_t c : our_top1) top1_agrees = top1_agrees || ref_top1.count(c) == 1;
            CAPTURE(ours[0], ours[1], out.data[ours[0]], out.data[ours[1]], ref[0].index, ref[0].prob, ref[1].index,
                    ref[1].prob, logit_step);
            CHECK(top1_agrees);
            if (float_ref[theirs[0]] >= kConfidentFloat) CHECK(our_top1.count(theirs[0]) == 1);

            // Top-5 overlap. A reference entry near-tied with its fifth (0 included) may stand for classes the
            // list left out at the same level, so it counts as found.
            int overlap = 0;
            for (const Ranked& r : ref) {
                bool found = false;
                for (int i = 0; i < kTop; ++i) found = found || r.index == ours[i];
                overlap += found || near(r.prob, ref[kTop - 1].prob);
            }
            CAPTURE(overlap);
            CHECK(overlap >= kMinTop5Overlap);

            for (const Ranked& r : ref) worst_int8 = std::max(worst_int8, std::abs(out.data[r.index] - r.prob));
            for (size_t i = 0; i < float_ref.size(); ++i) {
                worst_float = std::max(worst_float, std::abs(double(out.data[i]) - double(float_ref[i])));
            }
        }
        std::printf("int8: %-34s max |dprob| vs int8 reference (its top 5) = %.4f, vs float reference = %.4f "
                    "(%zu images)\n", m.name.c_str(), worst_int8, worst_float, m.images.size());
    }
}

TEST_CASE("int8: no step of a shared model runs a reference (ref) implementation", "[e2e][int8]") {
    for (const SharedModel& m : shared_tflite_models()) {
        auto model = Model::load(converted_manifest(m));
        for (int batch : {1, kLargeBatch}) {
            SessionOptions o = int8_options(batch);
            o.profile = true;
            Session session(model, o);
            Shape shape = model->input_shape();
            shape[0] = batch;
            Tensor input(shape);
            session.run(input);
            REQUIRE(!session.timings().empty());
            int int8_convs = 0;
            for (const LayerTiming& t : session.timings()) {
                CAPTURE(m.name, batch, t.name, t.op, t.impl);
                CHECK(t.impl.rfind("ref", 0) != 0);
                if (t.op.rfind("conv2d", 0) == 0 && (t.type == "u8" || t.type == "s8")) ++int8_convs;
            }
            // Every convolution of these models runs on integers.
            int convs = 0;
            for (const LayerInfo& l : model->layers()) convs += l.op == "conv2d";
            CAPTURE(m.name, batch);
            CHECK(int8_convs == convs);
        }
    }
}

TEST_CASE("int8: a batch gives each image the result it gets alone", "[e2e][int8]") {
    const SharedModel m = shared_tflite_models().back();
    auto model = Model::load(converted_manifest(m));
    const int batch = static_cast<int>(m.images.size());
    Session single(model, int8_options());
    Session batched(model, int8_options(batch));
    const Tensor input = reference_batch(m, *model);
    const size_t per_image = input.data.size() / static_cast<size_t>(batch);
    batched.run(input);
    const Tensor& out = batched.output(0);
    const size_t classes = out.data.size() / static_cast<size_t>(batch);
    for (int i = 0; i < batch; ++i) {
        Tensor one(model->input_shape());
        one.data.assign(input.data.begin() + static_cast<std::ptrdiff_t>(per_image * static_cast<size_t>(i)),
                        input.data.begin() + static_cast<std::ptrdiff_t>(per_image * static_cast<size_t>(i + 1)));
        single.run(one);
        double diff = 0;
        for (size_t c = 0; c < classes; ++c) {
            diff = std::max(diff, std::abs(double(single.output(0).data[c]) - double(out.data[classes * i + c])));
        }
        CAPTURE(i);
        CHECK(diff <= 1e-6);  // the same integers: only the float softmax could differ, and it does not
    }
}

TEST_CASE("int8: a model without quantization parameters is refused", "[e2e][int8]") {
    ModelBuilder builder(8, 8, 1);
    builder.conv(builder.input(), conv_spec(4, 3, 1, {1, 1, 1, 1}));
    auto model = builder.build();
    REQUIRE(!model->has_quantization());
    expect_error([&] { Session session(model, int8_options()); }, ErrorCode::Unsupported, {"quantization parameters"});
}
