// SPDX-License-Identifier: Apache-2.0
// mnet info: what a model file holds, after the loader's full validation: input, preprocessing, outputs, every
// layer with its cost, and what the depthwise-separable factorisation saves over standard convolutions.
#include <cstdio>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "common/exit_codes.h"
#include "cli/measure.h"
#include "cli/output.h"
#include "mnet/engine.h"
#include "mnet/model.h"

namespace mnet::cli {

namespace {

using json = nlohmann::ordered_json;  // keys in the order written: the documented order

constexpr size_t kMaxNameWidth = 48;

struct InfoOptions {
    ModelFlags model;
    std::string precision;  // empty: the model's default
    OutputFlags out;
};

// What each layer runs in: "int8", "bf16" or "fp32" by layer name.
using LayerPrecisions = std::map<std::string, std::string>;

// The precision each layer runs in under `precision`, as the engine plans it (an int8 session still runs a
// layer without an int8 kernel in fp32): one profiled run of a session on a zero input, the data type each step
// reads (u8/s8 = int8) given to the layers the step executes.
LayerPrecisions layer_precisions(const std::shared_ptr<const Model>& model, Precision precision) {
    SessionOptions so;
    so.precision = precision;
    so.profile = true;
    so.threads = 1;
    Session session(model, so);
    session.run(Tensor(model->input_shape()));
    LayerPrecisions out;
    for (const LayerTiming& t : session.timings()) {
        if (t.op == "reorder") continue;
        const char* p = t.type == "u8" || t.type == "s8" ? "int8" : t.type == "bf16" ? "bf16" : "fp32";
        for (size_t begin = 0, end = 0; end != std::string::npos; begin = end + 1) {
            end = t.name.find('+', begin);
            out[t.name.substr(begin, end == std::string::npos ? std::string::npos : end - begin)] = p;
        }
    }
    return out;
}

std::string precision_of(const LayerPrecisions& precisions, const std::string& layer) {
    const auto it = precisions.find(layer);
    return it == precisions.end() ? "-" : it->second;  // "-": folded into another step, nothing runs for it
}

// A depthwise KxK convolution whose output feeds a 1x1 convolution directly (MobileNet's building block), and
// the cost of the one standard KxK convolution it replaces (same Cin, Cout, kernel, stride and output size).
// With D² output pixels: standard = Cin·Cout·K²·D², separable = Cin·K²·D² + Cin·Cout·D², so
// separable / standard = 1/Cout + 1/K² (MobileNets, Howard et al. 2017, section 3.1).
struct SeparableBlock {
    size_t depthwise = 0, pointwise = 0;  // indices into Model::layers()
    int64_t in_channels = 0, out_channels = 0, kernel_h = 0, kernel_w = 0, out_h = 0, out_w = 0;

    int64_t pixels() const { return out_h * out_w; }
    int64_t kernel_area() const { return kernel_h * kernel_w; }
    int64_t standard_macs() const { return in_channels * out_channels * kernel_area() * pixels(); }
    int64_t depthwise_macs() const { return in_channels * kernel_area() * pixels(); }
    int64_t pointwise_macs() const { return in_channels * out_channels * pixels(); }
    int64_t separable_macs() const { return depthwise_macs() + pointwise_macs(); }
    double ratio() const { return static_cast<double>(separable_macs()) / static_cast<double>(standard_macs()); }
    double formula() const {
        return 1.0 / static_cast<double>(out_channels) + 1.0 / static_cast<double>(kernel_area());
    }
};

// LayerInfo's convolution fields are 0 for other ops.
bool is_convolution(const LayerInfo& l) { return l.groups > 0; }

bool is_depthwise(const LayerInfo& l) {
    return l.groups > 1 && l.groups == l.in_channels && l.out_channels == l.in_channels &&
           l.kernel_h * l.kernel_w > 1;
}

bool is_pointwise(const LayerInfo& l) {
    return l.groups == 1 && l.kernel_h == 1 && l.kernel_w == 1 && l.stride_h == 1 &&
           l.stride_w == 1 && l.inputs.size() == 1;
}

std::vector<SeparableBlock> separable_blocks(const Model& model) {
    const std::vector<LayerInfo>& layers = model.layers();
    std::map<std::string, size_t> producer;
    for (size_t i = 0; i < layers.size(); ++i) producer[layers[i].output] = i;
    std::vector<SeparableBlock> blocks;
    for (size_t i = 0; i < layers.size(); ++i) {
        const LayerInfo& pw = layers[i];
        if (!is_pointwise(pw)) continue;
        const auto it = producer.find(pw.inputs[0]);
        if (it == producer.end() || !is_depthwise(layers[it->second])) continue;
        const LayerInfo& dw = layers[it->second];
        SeparableBlock b;
        b.depthwise = it->second;
        b.pointwise = i;
        b.in_channels = dw.in_channels;
        b.out_channels = pw.out_channels;
        b.kernel_h = dw.kernel_h;
        b.kernel_w = dw.kernel_w;
        b.out_h = dw.dst_shape[2];
        b.out_w = dw.dst_shape[3];
        blocks.push_back(b);
    }
    return blocks;
}

const char* color_name(ColorOrder c) { return c == ColorOrder::RGB ? "rgb" : "bgr"; }

const char* kind_name(OutputKind k) {
    switch (k) {
        case OutputKind::Probabilities: return "probabilities";
        case OutputKind::Logits: return "logits";
        case OutputKind::Feature: return "feature";
    }
    return "feature";
}

// 300775552 -> "300,775,552": exact, and still readable.
std::string grouped(int64_t n) {
    std::string digits = std::to_string(n < 0 ? -n : n);
    std::string out;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return (n < 0 ? "-" : "") + out;
}

std::string shorten(const std::string& s) {
    return s.size() <= kMaxNameWidth ? s : "..." + s.substr(s.size() - (kMaxNameWidth - 3));
}

std::string triple(const std::array<float, 3>& v) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "[%g, %g, %g]", static_cast<double>(v[0]), static_cast<double>(v[1]),
                  static_cast<double>(v[2]));
    return buf;
}

void print_table(const Model& model, const std::vector<SeparableBlock>& blocks, Precision precision,
                 const LayerPrecisions& precisions) {
    const Preprocess& pp = model.preprocess();
    std::printf("model         %s\n", model.name().c_str());
    std::printf("file          %s\n", model.path().c_str());
    std::printf("input         %s float32, NCHW\n", shape_str(model.input_shape()).c_str());
    std::printf("preprocess    central %g%% of each side, area resize to %dx%d, %s, x = (pixel - mean) / std, mean %s, "
                "std %s\n",
                100.0 * pp.crop, pp.width, pp.height, pp.color == ColorOrder::RGB ? "RGB" : "BGR",
                triple(pp.mean).c_str(), triple(pp.std).c_str());
    for (size_t i = 0; i < model.outputs().size(); ++i) {
        const OutputInfo& o = model.outputs()[i];
        std::printf("%-14s%s %s (%s)\n", i == 0 ? "outputs" : "", shape_str(o.shape).c_str(), kind_name(o.kind),
                    display_name(o.name).c_str());
    }
    if (model.labels().empty()) {
        std::printf("labels        none\n");
    } else {
        std::printf("labels        %zu\n", model.labels().size());
    }
    std::printf("quantization  %s\n", model.has_quantization() ? "in the source model" : "none");
    const char* reduced = precision == Precision::Bf16 ? "bf16" : "int8";  // what the other layers are not in
    size_t reduced_layers = 0;
    for (const LayerInfo& l : model.layers()) reduced_layers += precision_of(precisions, l.name) == reduced ? 1 : 0;
    std::printf("precision     %s: %zu of %zu layers run in %s, the others in fp32 (column 'runs in'; "
                "--precision int8|fp32|bf16 to see another)\n",
                precision_name(precision), reduced_layers, model.layers().size(), reduced);

    const auto& layers = model.layers();
    size_t name_w = 5, op_w = 2, act_w = 10, shape_w = 6;
    for (const LayerInfo& l : layers) {
        name_w = std::max(name_w, shorten(display_name(l.name)).size());
        op_w = std::max(op_w, l.op.size());
        act_w = std::max(act_w, l.activation.size());
        shape_w = std::max(shape_w, shape_str(l.dst_shape).size());
    }
    const int nw = static_cast<int>(name_w), ow = static_cast<int>(op_w), aw = static_cast<int>(act_w),
              sw = static_cast<int>(shape_w);
    std::printf("\n%4s  %-*s  %-*s  %-9s  %-*s  %-*s  %11s  %13s  %s\n", "#", nw, "layer", ow, "op", "kernel", aw,
                "activation", sw, "output", "params", "MACs", "runs in");
    for (size_t i = 0; i < layers.size(); ++i) {
        const LayerInfo& l = layers[i];
        std::string kernel;
        if (is_convolution(l)) {
            kernel = std::to_string(l.kernel_h) + "x" + std::to_string(l.kernel_w) + "/" + std::to_string(l.stride_h);
            if (l.groups > 1) kernel += l.groups == l.in_channels ? " dw" : " g" + std::to_string(l.groups);
        }
        std::printf("%4zu  %-*s  %-*s  %-9s  %-*s  %-*s  %11s  %13s  %s\n", i + 1, nw,
                    shorten(display_name(l.name)).c_str(), ow, l.op.c_str(), kernel.c_str(), aw, l.activation.c_str(),
                    sw, shape_str(l.dst_shape).c_str(), grouped(l.params).c_str(), grouped(l.macs).c_str(),
                    precision_of(precisions, l.name).c_str());
    }
    const int span = nw + ow + aw + sw + 9 + 8;  // the columns from layer to output, with their separators
    std::printf("%4s  %-*s  %11s  %13s\n", "", span, "total", grouped(model.total_params()).c_str(),
                grouped(model.total_macs()).c_str());
    std::printf("\n%zu layers, %s parameters, %s MACs per image (kernel column: KHxKW/stride, dw = depthwise)\n",
                layers.size(), human_count(static_cast<double>(model.total_params())).c_str(),
                human_count(static_cast<double>(model.total_macs())).c_str());

    if (blocks.empty()) {
        std::printf("\nno depthwise-separable blocks (a KxK depthwise conv feeding a 1x1 conv directly)\n");
        return;
    }
    std::printf("\ndepthwise-separable blocks: depthwise KxK + pointwise 1x1 against one standard KxK conv of the same "
                "shape\n(standard = Cin*Cout*K²*D², separable = Cin*K²*D² + Cin*Cout*D², D² = output pixels)\n\n");
    // "D²" and "K²" take one byte more than they take columns.
    std::printf("%9s  %5s  %5s  %3s  %8s  %13s  %11s  %11s  %11s  %7s  %13s\n", "layers", "Cin", "Cout", "K", "D²",
                "standard", "depthwise", "pointwise", "separable", "ratio", "1/Cout+1/K²");
    int64_t standard = 0, separable = 0;
    for (const SeparableBlock& b : blocks) {
        const std::string pair = std::to_string(b.depthwise + 1) + "+" + std::to_string(b.pointwise + 1);
        const std::string k = b.kernel_h == b.kernel_w ? std::to_string(b.kernel_h)
                                                       : std::to_string(b.kernel_h) + "x" + std::to_string(b.kernel_w);
        const std::string d = std::to_string(b.out_h) + "x" + std::to_string(b.out_w);
        std::printf("%9s  %5lld  %5lld  %3s  %7s  %13s  %11s  %11s  %11s  %7.4f  %12.4f\n", pair.c_str(),
                    static_cast<long long>(b.in_channels), static_cast<long long>(b.out_channels), k.c_str(), d.c_str(),
                    grouped(b.standard_macs()).c_str(), grouped(b.depthwise_macs()).c_str(),
                    grouped(b.pointwise_macs()).c_str(), grouped(b.separable_macs()).c_str(), b.ratio(), b.formula());
        standard += b.standard_macs();
        separable += b.separable_macs();
    }
    std::printf("%9s  %5s  %5s  %3s  %7s  %13s  %11s  %11s  %11s  %7.4f\n", "total", "", "", "", "",
                grouped(standard).c_str(), "", "", grouped(separable).c_str(),
                static_cast<double>(separable) / static_cast<double>(standard));
    std::printf("\n%zu block%s: %s MACs instead of %s, %.1fx fewer\n", blocks.size(), blocks.size() == 1 ? "" : "s",
                human_count(static_cast<double>(separable)).c_str(), human_count(static_cast<double>(standard)).c_str(),
                static_cast<double>(standard) / static_cast<double>(separable));
}

json info_json(const Model& model, const std::vector<SeparableBlock>& blocks, Precision precision,
               const LayerPrecisions& precisions) {
    const Preprocess& pp = model.preprocess();
    json outputs = json::array();
    for (const OutputInfo& o : model.outputs()) {
        outputs.push_back({{"name", o.name}, {"kind", kind_name(o.kind)}, {"shape", o.shape}});
    }
    json layers = json::array();
    for (const LayerInfo& l : model.layers()) {
        json j = {{"name", l.name},         {"display_name", display_name(l.name)},
                  {"op", l.op},             {"activation", l.activation},
                  {"inputs", l.inputs},     {"output", l.output},
                  {"shape", l.dst_shape},   {"params", l.params},
                  {"macs", l.macs},
                  {"precision", precision_of(precisions, l.name)}};
        if (is_convolution(l)) {
            j["kernel"] = {l.kernel_h, l.kernel_w};
            j["stride"] = {l.stride_h, l.stride_w};
            j["groups"] = l.groups;
            j["in_channels"] = l.in_channels;
            j["out_channels"] = l.out_channels;
        }
        layers.push_back(std::move(j));
    }
    json separable = json::array();
    int64_t standard_total = 0, separable_total = 0;
    for (const SeparableBlock& b : blocks) {
        separable.push_back({{"depthwise", model.layers()[b.depthwise].name},
                             {"pointwise", model.layers()[b.pointwise].name},
                             {"depthwise_index", b.depthwise + 1},
                             {"pointwise_index", b.pointwise + 1},
                             {"in_channels", b.in_channels},
                             {"out_channels", b.out_channels},
                             {"kernel", {b.kernel_h, b.kernel_w}},
                             {"output_hw", {b.out_h, b.out_w}},
                             {"standard_macs", b.standard_macs()},
                             {"depthwise_macs", b.depthwise_macs()},
                             {"pointwise_macs", b.pointwise_macs()},
                             {"separable_macs", b.separable_macs()},
                             {"ratio", b.ratio()},
                             {"formula", b.formula()}});
        standard_total += b.standard_macs();
        separable_total += b.separable_macs();
    }
    return {{"name", model.name()},
            {"path", model.path()},
            {"input", {{"shape", model.input_shape()}, {"dtype", "f32"}, {"layout", "nchw"}}},
            {"preprocess",
             {{"height", pp.height},
              {"width", pp.width},
              {"crop", pp.crop},
              {"color", color_name(pp.color)},
              {"mean", pp.mean},
              {"std", pp.std}}},
            {"outputs", outputs},
            {"labels", model.labels().size()},
            {"quantized_source", model.has_quantization()},
            {"precision", precision_name(precision)},
            {"layers", layers},
            {"totals",
             {{"layers", model.layers().size()}, {"params", model.total_params()}, {"macs", model.total_macs()}}},
            {"separable_blocks", separable},
            {"separable_totals", {{"blocks", blocks.size()},
                                  {"standard_macs", standard_total},
                                  {"separable_macs", separable_total}}}};
}

int run_info(const InfoOptions& opt) {
    const std::shared_ptr<const Model> model = load_model(opt.model);
    const std::vector<SeparableBlock> blocks = separable_blocks(*model);
    const Precision precision = resolve_precision(opt.precision, *model);
    const LayerPrecisions precisions = layer_precisions(model, precision);
    const std::string format = opt.out.resolve();
    ResultOutput result(opt.out.path);  // the model's files are noted as it loads
    if (format == "json") {
        std::printf("%s\n", info_json(*model, blocks, precision, precisions).dump(2, ' ', false, json::error_handler_t::replace).c_str());
    } else {
        print_table(*model, blocks, precision, precisions);
    }
    result.commit();
    return kExitOk;
}

}  // namespace

void setup_info(CLI::App& app, int& status) {
    auto opt = std::make_shared<InfoOptions>();
    CLI::App* sub = app.add_subcommand(
        "info",
        "What a model holds: input, preprocessing, outputs, every layer's shape, parameters and MACs, and the cost\n"
        "of each depthwise-separable block against a standard convolution (the model is fully validated first)\n"
        "  e.g. mnet info\n"
        "       mnet info --json -o info.json");
    add_model_option(sub, opt->model);
    add_precision_option(sub, opt->precision);
    add_output_flags(sub, opt->out, {"table", "json"}, "json",
                     "table: the model's facts, a layer table and the separable blocks; json: one document with the "
                     "same (docs/profile.md).");
    sub->callback([opt, &status] { status = run_info(*opt); });
}

}  // namespace mnet::cli
