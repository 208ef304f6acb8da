// SPDX-License-Identifier: Apache-2.0
#include "zoo_fixtures.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "support/test_data.h"

namespace mnet::test::zoo {

namespace {

Quant quant(const nlohmann::json& j) {
    Quant q;
    q.dtype = j.at("dtype").get<std::string>();
    q.scale = j.at("scale").get<double>();
    q.zero_point = j.at("zero_point").get<int64_t>();
    return q;
}

// numpy's float32 arithmetic, one correctly rounded step at a time: a double holds each exact product, sum and
// quotient of two floats closely enough that rounding it to float rounds correctly, and no FMA can merge steps.
float f32(double v) { return static_cast<float>(v); }

}  // namespace

std::string zoo_dir() { return std::string(MNET_SOURCE_DIR) + "/tests/data/zoo"; }

nlohmann::json index() {
    std::ifstream in(zoo_dir() + "/index.json");
    if (!in) throw std::runtime_error("missing " + zoo_dir() + "/index.json");
    return nlohmann::json::parse(in);
}

std::vector<Fixture> tflite_fixtures() {
    std::vector<Fixture> out;
    const nlohmann::json all = index();
    for (const auto& e : all.at("tflite")) {
        Fixture f;
        f.file = e.at("file").get<std::string>();
        f.name = e.at("name").get<std::string>();
        f.arch = e.at("arch").get<std::string>();
        f.mode = e.at("mode").get<std::string>();
        f.size = e.at("size").get<int64_t>();
        f.pixel_scale = e.at("pixel_scale").get<double>();
        f.pixel_offset = e.at("pixel_offset").get<double>();
        f.input = quant(e.at("input"));
        f.output = quant(e.at("output"));
        if (e.contains("output_int8")) f.output_int8 = quant(e.at("output_int8"));
        f.output_shape = e.at("output_shape").get<std::vector<int64_t>>();
        f.ops = e.at("ops").get<std::vector<std::string>>();
        f.oracle_kernels = e.value("oracle_kernels", std::string());
        for (const auto& r : e.at("results")) {
            f.inputs.push_back(r.at("input").get<std::string>());
            f.refs.push_back(r.at("ref").get<std::string>());
            for (const char* key : {"xnnpack_max_steps", "xnnpack_max_abs_diff"}) {
                if (r.contains(key)) f.xnnpack_worst = std::max(f.xnnpack_worst, r.at(key).get<double>());
            }
        }
        out.push_back(std::move(f));
    }
    return out;
}

std::vector<uint8_t> pixels(int64_t size, const std::string& stem) {
    const std::string file = index().at("inputs").at(std::to_string(size) + "/" + stem).get<std::string>();
    std::vector<uint8_t> px = read_file_bytes(zoo_dir() + "/" + file);
    if (px.size() != static_cast<size_t>(size * size * 3)) throw std::runtime_error(file + ": wrong size");
    return px;
}

std::vector<int64_t> quantize(const std::vector<double>& y, const Quant& q) {
    std::vector<int64_t> out(y.size());
    for (size_t i = 0; i < y.size(); ++i) {
        const double v = std::nearbyint(f32(y[i] / q.scale)) + static_cast<double>(q.zero_point);
        out[i] = static_cast<int64_t>(std::clamp(v, static_cast<double>(q.qmin()), static_cast<double>(q.qmax())));
    }
    return out;
}

Tensor model_input(const Fixture& f, const std::vector<uint8_t>& px) {
    const int64_t n = f.size;
    Tensor t({1, 3, n, n});
    const float scale = f32(f.pixel_scale), offset = f32(f.pixel_offset);
    for (int64_t y = 0; y < n; ++y) {
        for (int64_t x = 0; x < n; ++x) {
            for (int64_t c = 0; c < 3; ++c) {
                const float p = static_cast<float>(px[static_cast<size_t>((y * n + x) * 3 + c)]);
                float real = f32(static_cast<double>(f32(static_cast<double>(p) * scale)) + offset);
                if (f.input.quantized()) {
                    const Quant& q = f.input;
                    const int64_t v = quantize({real}, q)[0];
                    real = f32(static_cast<double>(v - q.zero_point) * static_cast<double>(f32(q.scale)));
                }
                t.data[static_cast<size_t>((c * n + y) * n + x)] = real;
            }
        }
    }
    return t;
}

std::vector<double> reference_output(const Fixture& f, size_t input) {
    const std::vector<uint8_t> bytes = read_file_bytes(zoo_dir() + "/" + f.refs.at(input));
    std::vector<double> out;
    if (f.output.dtype == "float32") {
        if (bytes.size() % 4) throw std::runtime_error(f.refs[input] + ": not float32");
        out.resize(bytes.size() / 4);
        for (size_t i = 0; i < out.size(); ++i) {
            float v;
            std::memcpy(&v, bytes.data() + 4 * i, 4);  // little-endian hosts only (FORMAT.md)
            out[i] = v;
        }
    } else {
        for (uint8_t b : bytes) out.push_back(f.output.dtype == "int8" ? static_cast<int8_t>(b) : b);
    }
    return out;
}

}  // namespace mnet::test::zoo
