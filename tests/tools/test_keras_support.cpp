// SPDX-License-Identifier: Apache-2.0
// Writing the test models (test_keras_support.h): Keras JSON, TF.js layers folders, .h5 files.
#include "test_keras_support.h"

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "keras_importer.h"
#include "mnet/engine.h"
#include "support/test_data.h"

namespace mnet::test::keras {

namespace {

json layer_json(const Layer& l, bool functional, const KerasModel& m, const std::string& previous,
                const std::vector<int64_t>* input_shape) {
    json cfg = l.config;
    cfg["name"] = l.name;
    if (l.cls == "Sequential") {
        json inner = json::array();
        std::string prev;
        for (size_t i = 0; i < l.layers.size(); ++i) {
            inner.push_back(layer_json(l.layers[i], false, m, prev, i == 0 ? input_shape : nullptr));
        }
        cfg = json{{"name", l.name}, {"layers", inner}};
    } else if (input_shape) {
        cfg["batch_input_shape"] = json::array({nullptr, (*input_shape)[0], (*input_shape)[1], (*input_shape)[2]});
    }
    json j = {{"class_name", l.cls}, {"config", cfg}};
    if (!functional) return j;
    j["name"] = l.name;
    const std::vector<std::string> inputs = l.inputs.empty() ? std::vector<std::string>{previous} : l.inputs;
    json refs = json::array();
    for (const std::string& in : inputs) {
        if (m.keras3_nodes) {
            refs.push_back({{"class_name", "__keras_tensor__"},
                            {"config", {{"dtype", "float32"}, {"keras_history", json::array({in, 0, 0})}}}});
        } else {
            refs.push_back(json::array({in, 0, 0, json::object()}));
        }
    }
    if (m.keras3_nodes) {
        j["inbound_nodes"] = json::array({{{"args", refs.size() == 1 ? refs : json::array({refs})}, {"kwargs", json::object()}}});
    } else {
        j["inbound_nodes"] = json::array({refs});
    }
    return j;
}

// Every weight of the model in manifest order, named "<layer>/<weight>".
void collect(std::vector<Layer>& layers, std::vector<std::pair<std::string, Array*>>& out) {
    for (Layer& l : layers) {
        for (auto& [name, a] : l.weights) out.emplace_back(l.name + "/" + name, &a);
        collect(l.layers, out);
    }
}

}  // namespace

Array Builder::random(std::vector<int64_t> shape, double lo, double hi) {
    Array a{std::move(shape), {}};
    int64_t n = 1;
    for (int64_t d : a.shape) n *= d;
    std::uniform_real_distribution<double> dist(lo, hi);
    // Weights are float32 in every file format: round here so the reference sees what the files hold.
    for (int64_t i = 0; i < n; ++i) a.v.push_back(static_cast<float>(dist(rng_)));
    return a;
}

Layer Builder::conv(const std::string& name, int64_t in_c, int64_t filters, int64_t k, int64_t stride,
                    const std::string& padding, bool bias, const std::string& activation) {
    const double scale = std::sqrt(3.0 / static_cast<double>(k * k * in_c));
    Layer l = simple("Conv2D", name, {{"filters", filters}, {"kernel_size", {k, k}}, {"strides", {stride, stride}},
                             {"padding", padding}, {"data_format", "channels_last"}, {"dilation_rate", {1, 1}},
                             {"activation", activation}, {"use_bias", bias}});
    l.weights.emplace_back("kernel", random({k, k, in_c, filters}, -scale, scale));
    if (bias) l.weights.emplace_back("bias", random({filters}, -0.2, 0.2));
    return l;
}

Layer Builder::depthwise(const std::string& name, int64_t in_c, int64_t k, int64_t stride, const std::string& padding,
                         int64_t multiplier, bool bias) {
    const double scale = std::sqrt(3.0 / static_cast<double>(k * k));
    Layer l = simple("DepthwiseConv2D", name, {{"kernel_size", {k, k}}, {"strides", {stride, stride}}, {"padding", padding},
                                      {"depth_multiplier", multiplier}, {"activation", "linear"}, {"use_bias", bias}});
    l.weights.emplace_back("depthwise_kernel", random({k, k, in_c, multiplier}, -scale, scale));
    if (bias) l.weights.emplace_back("bias", random({in_c * multiplier}, -0.2, 0.2));
    return l;
}

Layer Builder::separable(const std::string& name, int64_t in_c, int64_t filters, int64_t k, const std::string& padding,
                         bool bias) {
    const double dw = std::sqrt(3.0 / static_cast<double>(k * k)), pw = std::sqrt(3.0 / static_cast<double>(in_c));
    Layer l = simple("SeparableConv2D", name, {{"filters", filters}, {"kernel_size", {k, k}}, {"strides", {1, 1}},
                                      {"padding", padding}, {"depth_multiplier", 1}, {"activation", "linear"},
                                      {"use_bias", bias}});
    l.weights.emplace_back("depthwise_kernel", random({k, k, in_c, 1}, -dw, dw));
    l.weights.emplace_back("pointwise_kernel", random({1, 1, in_c, filters}, -pw, pw));
    if (bias) l.weights.emplace_back("bias", random({filters}, -0.2, 0.2));
    return l;
}

Layer Builder::batch_norm(const std::string& name, int64_t channels, double epsilon) {
    Layer l = simple("BatchNormalization", name, {{"axis", -1}, {"epsilon", epsilon}, {"center", true}, {"scale", true}});
    l.weights.emplace_back("gamma", random({channels}, 0.5, 1.5));
    l.weights.emplace_back("beta", random({channels}, -0.3, 0.3));
    l.weights.emplace_back("moving_mean", random({channels}, -0.3, 0.3));
    l.weights.emplace_back("moving_variance", random({channels}, 0.5, 2.0));
    return l;
}

Layer Builder::dense(const std::string& name, int64_t in, int64_t units, const std::string& activation, bool bias) {
    const double scale = std::sqrt(3.0 / static_cast<double>(in));
    Layer l = simple("Dense", name, {{"units", units}, {"activation", activation}, {"use_bias", bias}});
    l.weights.emplace_back("kernel", random({in, units}, -scale, scale));
    if (bias) l.weights.emplace_back("bias", random({units}, -0.2, 0.2));
    return l;
}

Layer relu(const std::string& name, const json& max_value) {
    return simple("ReLU", name, {{"max_value", max_value}, {"negative_slope", 0}, {"threshold", 0}});
}

Layer activation(const std::string& name, const std::string& kind) {
    return simple("Activation", name, {{"activation", kind}});
}

Layer simple(const std::string& cls, const std::string& name, json config, std::vector<std::string> inputs) {
    Layer l;
    l.cls = cls;
    l.name = name;
    l.config = std::move(config);
    l.inputs = std::move(inputs);
    return l;
}

Layer sequential(const std::string& name, std::vector<Layer> layers) {
    Layer l = simple("Sequential", name);
    l.layers = std::move(layers);
    return l;
}

json topology(const KerasModel& m) {
    if (m.cls == "Sequential") {
        json layers = json::array();
        for (size_t i = 0; i < m.layers.size(); ++i) {
            layers.push_back(layer_json(m.layers[i], false, m, "", i == 0 ? &m.input_hwc : nullptr));
        }
        return {{"class_name", "Sequential"}, {"config", {{"name", m.name}, {"layers", layers}}}};
    }
    const auto& s = m.input_hwc;
    json layers = json::array({{{"class_name", "InputLayer"},
                                {"name", m.input_name},
                                {"config", {{"batch_input_shape", {nullptr, s[0], s[1], s[2]}}, {"dtype", "float32"},
                                            {"name", m.input_name}}},
                                {"inbound_nodes", json::array()}}});
    std::string previous = m.input_name;
    for (const Layer& l : m.layers) {
        layers.push_back(layer_json(l, true, m, previous, nullptr));
        previous = l.name;
    }
    const std::string out = m.output.empty() ? previous : m.output;
    return {{"class_name", m.keras3_nodes ? "Functional" : "Model"},
            {"config", {{"name", m.name}, {"layers", layers}, {"input_layers", {{m.input_name, 0, 0}}},
                        {"output_layers", {{out, 0, 0}}}}}};
}

void write_tfjs(KerasModel& m, const std::string& dir, const TfjsOptions& options) {
    std::vector<std::pair<std::string, Array*>> weights;
    collect(m.layers, weights);
    json specs = json::array();
    std::vector<uint8_t> bytes;
    for (auto& [name, a] : weights) {
        json spec = {{"name", name}, {"shape", a->shape}, {"dtype", "float32"}};
        if (!options.quantize.empty()) {
            const bool wide = options.quantize == "uint16";
            const double levels = wide ? 65535.0 : 255.0;
            const double lo = *std::min_element(a->v.begin(), a->v.end()), hi = *std::max_element(a->v.begin(), a->v.end());
            const double scale = hi > lo ? (hi - lo) / levels : 1.0;
            spec["quantization"] = {{"dtype", options.quantize}, {"min", lo}, {"scale", scale}};
            for (double& x : a->v) {
                const auto q = static_cast<uint16_t>(std::lround((x - lo) / scale));
                bytes.push_back(static_cast<uint8_t>(q & 0xFF));
                if (wide) bytes.push_back(static_cast<uint8_t>(q >> 8));
                x = static_cast<float>(q * scale + lo);  // what TF.js (and the reference) will see
            }
        } else {
            for (double x : a->v) {
                const float f = static_cast<float>(x);
                const auto* p = reinterpret_cast<const uint8_t*>(&f);
                bytes.insert(bytes.end(), p, p + sizeof f);
            }
        }
        specs.push_back(spec);
    }
    std::filesystem::create_directories(dir);
    json paths = json::array();
    const size_t per = (bytes.size() + size_t(options.shards) - 1) / size_t(options.shards);
    for (int s = 0; s < options.shards; ++s) {
        const std::string file = "group1-shard" + std::to_string(s + 1) + "of" + std::to_string(options.shards) + ".bin";
        const size_t begin = std::min(bytes.size(), size_t(s) * per), end = std::min(bytes.size(), begin + per);
        write_file_bytes(dir + "/" + file, std::vector<uint8_t>(bytes.begin() + long(begin), bytes.begin() + long(end)));
        paths.push_back(file);
    }
    json topo = topology(m);
    topo["keras_version"] = "tfjs-layers 4.22.0";
    topo["backend"] = "tensor_flow.js";
    const json root = {{"format", "layers-model"}, {"modelTopology", topo},
                       {"weightsManifest", json::array({{{"paths", paths}, {"weights", specs}}})}};
    write_text_file(dir + "/model.json", root.dump());
    if (!options.metadata.is_null()) write_text_file(dir + "/metadata.json", options.metadata.dump());
}

void write_h5(const KerasModel& m, const std::string& path) {
    const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) throw std::runtime_error("cannot create " + path);
    auto string_attr = [](hid_t loc, const char* name, const std::string& text) {
        const hid_t type = H5Tcopy(H5T_C_S1);
        H5Tset_size(type, H5T_VARIABLE);
        H5Tset_cset(type, H5T_CSET_UTF8);
        const hid_t space = H5Screate(H5S_SCALAR);
        const hid_t attr = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
        const char* p = text.c_str();
        H5Awrite(attr, type, &p);
        H5Aclose(attr);
        H5Sclose(space);
        H5Tclose(type);
    };
    string_attr(file, "model_config", topology(m).dump());
    string_attr(file, "keras_version", "2.8.0");
    string_attr(file, "backend", "tensorflow");
    const hid_t group = H5Gcreate2(file, "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    std::vector<Layer> layers = m.layers;
    std::vector<std::pair<std::string, Array*>> weights;
    collect(layers, weights);
    const hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    for (auto& [name, a] : weights) {
        // Keras 2 nests each layer's arrays twice: model_weights/<layer>/<layer>/<name>:0.
        const std::string layer = name.substr(0, name.find('/'));
        const std::string dataset = layer + "/" + name + ":0";
        std::vector<hsize_t> dims(a->shape.begin(), a->shape.end());
        const hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
        const hid_t ds = H5Dcreate2(group, dataset.c_str(), H5T_IEEE_F32LE, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
        std::vector<float> values(a->v.begin(), a->v.end());
        H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
        H5Dclose(ds);
        H5Sclose(space);
    }
    H5Pclose(lcpl);
    H5Gclose(group);
    H5Fclose(file);
}

std::vector<Tensor> convert_and_run(const std::string& src, const std::string& dir, const Array& input) {
    const std::string manifest = dir + "/model.json";
    importer::convert_keras_file(src, manifest, importer::KerasImportOptions{});
    auto model = mnet::Model::load(manifest);
    SessionOptions options;
    options.threads = 1;
    Session session(model, options);
    Tensor x(model->input_shape());
    const std::vector<double> nchw = to_nchw(input);
    if (nchw.size() != x.data.size()) throw std::runtime_error("input size does not match the model");
    std::copy(nchw.begin(), nchw.end(), x.data.begin());
    session.run(x);
    std::vector<Tensor> out;
    for (size_t i = 0; i < session.output_count(); ++i) out.push_back(session.output(i));
    return out;
}

std::vector<double> to_nchw(const Array& a) {
    if (a.shape.size() != 3) return a.v;
    const int64_t H = a.shape[0], W = a.shape[1], C = a.shape[2];
    std::vector<double> out(a.v.size());
    for (int64_t c = 0; c < C; ++c) {
        for (int64_t p = 0; p < H * W; ++p) out[size_t(c * H * W + p)] = a.v[size_t(p * C + c)];
    }
    return out;
}

double max_rel_diff(const std::vector<float>& ours, const std::vector<double>& ref) {
    if (ours.size() != ref.size()) return INFINITY;
    double diff = 0, scale = 1;
    for (size_t i = 0; i < ref.size(); ++i) {
        diff = std::max(diff, std::abs(double(ours[i]) - ref[i]));
        scale = std::max(scale, std::abs(ref[i]));
    }
    return diff / scale;
}

}  // namespace mnet::test::keras
