// SPDX-License-Identifier: Apache-2.0
#include "model/manifest.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "model/format.h"
#include "mnet/error.h"

namespace mnet {

using json = nlohmann::json;

namespace {

// Deeper nesting than any valid manifest has (node -> attrs -> array) is refused before it can cost anything.
constexpr int kMaxJsonDepth = 16;

class Reader {
public:
    explicit Reader(std::string where) : where_(std::move(where)) {}

    [[noreturn]] void fail(const std::string& path, const std::string& what) const {
        throw Error(ErrorCode::ModelFormat, where_ + ": " + path + ": " + what);
    }

    const json& field(const json& obj, const std::string& key, const std::string& path) const {
        auto it = obj.find(key);
        if (it == obj.end()) fail(path, "missing key '" + key + "'");
        return *it;
    }

    void only_keys(const json& obj, const std::set<std::string>& allowed, const std::string& path) const {
        for (auto it = obj.begin(); it != obj.end(); ++it) {
            if (!allowed.count(it.key())) fail(path, "unknown key '" + it.key() + "'");
        }
    }

    const json& object(const json& v, const std::string& path) const {
        if (!v.is_object()) fail(path, "must be an object");
        return v;
    }

    const json& array(const json& v, const std::string& path) const {
        if (!v.is_array()) fail(path, "must be an array");
        return v;
    }

    std::string string(const json& v, const std::string& path) const {
        if (!v.is_string()) fail(path, "must be a string");
        return v.get<std::string>();
    }

    int64_t integer(const json& v, const std::string& path) const {
        if (v.is_number_unsigned()) {
            if (v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) fail(path, "integer out of range");
            return static_cast<int64_t>(v.get<uint64_t>());
        }
        if (!v.is_number_integer()) fail(path, "must be an integer");
        return v.get<int64_t>();
    }

    uint64_t unsigned_int(const json& v, const std::string& path) const {
        if (!v.is_number_unsigned()) fail(path, "must be a non-negative integer");
        return v.get<uint64_t>();
    }

    double number(const json& v, const std::string& path) const {
        if (!v.is_number()) fail(path, "must be a number");
        return v.get<double>();
    }

    bool boolean(const json& v, const std::string& path) const {
        if (!v.is_boolean()) fail(path, "must be true or false");
        return v.get<bool>();
    }

    Shape shape(const json& v, const std::string& path) const {
        Shape s;
        for (size_t i = 0; i < array(v, path).size(); ++i) s.push_back(integer(v[i], path + "[" + std::to_string(i) + "]"));
        return s;
    }

    std::vector<std::string> strings(const json& v, const std::string& path) const {
        std::vector<std::string> out;
        for (size_t i = 0; i < array(v, path).size(); ++i) out.push_back(string(v[i], path + "[" + std::to_string(i) + "]"));
        return out;
    }

    QuantParams quant(const json& v, const std::string& path) const {
        object(v, path);
        only_keys(v, {"dtype", "scale", "zero_point", "axis"}, path);
        QuantParams q;
        std::string dt = string(field(v, "dtype", path), path + ".dtype");
        auto d = dtype_from_name(dt);
        if (!d || *d == DType::F32) fail(path + ".dtype", "unknown quantized dtype '" + dt + "'");
        q.dtype = *d;
        const json& scale = array(field(v, "scale", path), path + ".scale");
        for (size_t i = 0; i < scale.size(); ++i) q.scale.push_back(number(scale[i], path + ".scale"));
        const json& zp = array(field(v, "zero_point", path), path + ".zero_point");
        for (size_t i = 0; i < zp.size(); ++i) q.zero_point.push_back(integer(zp[i], path + ".zero_point"));
        if (q.scale.empty() || q.scale.size() != q.zero_point.size()) {
            fail(path, "scale and zero_point must be non-empty and of equal length");
        }
        for (double s : q.scale) {
            if (!(s > 0) || !std::isfinite(s)) fail(path + ".scale", "scales must be finite and positive");
        }
        q.axis = v.contains("axis") ? integer(v["axis"], path + ".axis") : -1;
        if (q.axis < -1 || q.axis >= format::kMaxRank) fail(path + ".axis", "out of range");
        if (q.axis == -1 && q.scale.size() != 1) fail(path, "per-tensor parameters must have one scale");
        return q;
    }

    AttrValue attr(const json& v, const std::string& path) const {
        if (v.is_number_integer()) return integer(v, path);
        if (v.is_number_float()) return v.get<double>();
        if (v.is_string()) return v.get<std::string>();
        if (v.is_array()) {
            bool all_int = true;
            for (const json& e : v) {
                if (!e.is_number()) fail(path, "arrays must hold numbers only");
                all_int = all_int && e.is_number_integer();
            }
            if (all_int) return shape(v, path);
            std::vector<double> d;
            for (const json& e : v) d.push_back(e.get<double>());
            return d;
        }
        fail(path, "must be a number, a string or an array of numbers");
    }

private:
    std::string where_;
};

OutputKind output_kind(const Reader& r, const std::string& s, const std::string& path) {
    if (s == "probabilities") return OutputKind::Probabilities;
    if (s == "logits") return OutputKind::Logits;
    if (s == "feature") return OutputKind::Feature;
    r.fail(path, "unknown output kind '" + s + "' (expected probabilities, logits or feature)");
}

const char* output_kind_name(OutputKind k) {
    switch (k) {
        case OutputKind::Probabilities: return "probabilities";
        case OutputKind::Logits: return "logits";
        case OutputKind::Feature: return "feature";
    }
    return "?";
}

std::array<float, 3> three_floats(const Reader& r, const json& v, const std::string& path) {
    if (!r.array(v, path).size() || v.size() != 3) r.fail(path, "must hold 3 numbers");
    std::array<float, 3> out{};
    for (size_t i = 0; i < 3; ++i) {
        const double d = r.number(v[i], path);
        // Converting a double beyond float's range is undefined behaviour, not infinity.
        if (!(std::abs(d) <= std::numeric_limits<float>::max())) r.fail(path, "must be finite");
        out[i] = static_cast<float>(d);
    }
    return out;
}

Preprocess parse_preprocess(const Reader& r, const json& v) {
    const std::string path = "preprocess";
    r.object(v, path);
    r.only_keys(v, {"height", "width", "crop", "color", "mean", "std"}, path);
    Preprocess p;
    // Range-checked here: narrowing a hostile 64-bit value to int could turn it into the input's true size.
    auto side = [&](const std::string& key) {
        const int64_t n = r.integer(r.field(v, key, path), path + "." + key);
        if (n < 1 || n > INT32_MAX) r.fail(path + "." + key, std::to_string(n) + " is not in [1, 2147483647]");
        return static_cast<int>(n);
    };
    p.height = side("height");
    p.width = side("width");
    p.crop = r.number(r.field(v, "crop", path), path + ".crop");
    std::string color = r.string(r.field(v, "color", path), path + ".color");
    if (color == "rgb") {
        p.color = ColorOrder::RGB;
    } else if (color == "bgr") {
        p.color = ColorOrder::BGR;
    } else {
        r.fail(path + ".color", "must be \"rgb\" or \"bgr\", got \"" + color + "\"");
    }
    p.mean = three_floats(r, r.field(v, "mean", path), path + ".mean");
    p.std = three_floats(r, r.field(v, "std", path), path + ".std");
    if (!(p.crop > 0 && p.crop <= 1)) r.fail(path + ".crop", "must be in (0, 1]");
    for (float s : p.std) {
        if (!(s > 0) || !std::isfinite(s)) r.fail(path + ".std", "must be finite and positive");
    }
    for (float m : p.mean) {
        if (!std::isfinite(m)) r.fail(path + ".mean", "must be finite");
    }
    return p;
}

json quant_json(const QuantParams& q) {
    json j = {{"dtype", dtype_name(q.dtype)}, {"scale", q.scale}, {"zero_point", q.zero_point}};
    if (q.axis >= 0) j["axis"] = q.axis;
    return j;
}

json attr_json(const AttrValue& v) {
    return std::visit([](const auto& x) { return json(x); }, v);
}

// The document root, parsed with a depth limit so a hostile file cannot exhaust the stack.
json parse_root(const Reader& r, const std::string& json_text, const std::string& where) {
    json root;
    try {
        root = json::parse(json_text, [&](int depth, json::parse_event_t, json&) {
            if (depth > kMaxJsonDepth) r.fail("(document)", "nested deeper than " + std::to_string(kMaxJsonDepth));
            return true;
        });
    } catch (const json::exception& e) {
        throw Error(ErrorCode::ModelFormat, where + ": not valid JSON (" + e.what() + ")");
    }
    r.object(root, "(document)");
    return root;
}

// Returns the format version, one this reader knows.
int64_t check_format(const Reader& r, const json& root, const std::string& where) {
    std::string fmt = r.string(r.field(root, "format", "(document)"), "format");
    if (fmt != format::kFormatName) {
        r.fail("format", "is \"" + fmt + "\", expected \"" + format::kFormatName + "\"");
    }
    int64_t version = r.integer(r.field(root, "format_version", "(document)"), "format_version");
    if (version > format::kFormatVersion) {
        throw Error(ErrorCode::Unsupported, where + ": format_version " + std::to_string(version) +
                                                " is newer than the newest this mnet reads (" +
                                                std::to_string(format::kFormatVersion) + "); upgrade mnet");
    }
    if (version < format::kOldestFormatVersion) {  // a version that never existed: also one this reader does not know
        throw Error(ErrorCode::Unsupported, where + ": format_version " + std::to_string(version) +
                                                " is not a version this mnet reads (" +
                                                std::to_string(format::kOldestFormatVersion) + " to " +
                                                std::to_string(format::kFormatVersion) + ")");
    }
    return version;
}

// The checksum key is the one difference between versions 1 and 2 (FORMAT.md "Versions").
void parse_weights(const Reader& r, const json& root, int64_t version, ModelDef& def) {
    const json& w = r.object(r.field(root, "weights", "(document)"), "weights");
    const ChecksumKind kind = version == 1 ? ChecksumKind::Fnv1a64 : ChecksumKind::Crc32c;
    const std::string name = checksum_name(kind), key = "weights." + name;
    const size_t digits = kind == ChecksumKind::Crc32c ? 8 : 16;
    r.only_keys(w, {"file", "size", name}, "weights");
    def.weights_file = r.string(r.field(w, "file", "weights"), "weights.file");
    def.weights_size = r.unsigned_int(r.field(w, "size", "weights"), "weights.size");
    std::string sum = r.string(r.field(w, name, "weights"), key);
    if (sum.size() != digits || sum.find_first_not_of("0123456789abcdef") != std::string::npos) {
        r.fail(key, "must be " + std::to_string(digits) + " lowercase hex digits");
    }
    def.weights_checksum = WeightsChecksum{kind, std::stoull(sum, nullptr, 16)};
}

void parse_input(const Reader& r, const json& root, ModelDef& def) {
    const json& in = r.object(r.field(root, "input", "(document)"), "input");
    r.only_keys(in, {"name", "shape", "dtype", "layout", "quantization"}, "input");
    def.input.name = r.string(r.field(in, "name", "input"), "input.name");
    def.input.shape = r.shape(r.field(in, "shape", "input"), "input.shape");
    if (r.string(r.field(in, "dtype", "input"), "input.dtype") != "f32") r.fail("input.dtype", "must be \"f32\"");
    if (r.string(r.field(in, "layout", "input"), "input.layout") != "nchw") r.fail("input.layout", "must be \"nchw\"");
    if (in.contains("quantization")) def.input.quant = r.quant(in["quantization"], "input.quantization");
}

OutputDef parse_output(const Reader& r, const json& v, const std::string& path) {
    r.object(v, path);
    r.only_keys(v, {"name", "kind"}, path);
    OutputDef o;
    o.name = r.string(r.field(v, "name", path), path + ".name");
    o.kind = output_kind(r, r.string(r.field(v, "kind", path), path + ".kind"), path + ".kind");
    return o;
}

// `path` is the array position until the name is known; later messages name the tensor.
TensorDef parse_tensor(const Reader& r, const json& v, std::string path) {
    const json& t = r.object(v, path);
    r.only_keys(t, {"name", "dtype", "shape", "offset", "nbytes", "quantization"}, path);
    TensorDef td;
    td.name = r.string(r.field(t, "name", path), path + ".name");
    path = "tensor '" + td.name + "'";
    std::string dt = r.string(r.field(t, "dtype", path), path + ".dtype");
    auto d = dtype_from_name(dt);
    if (!d) r.fail(path + ".dtype", "unknown dtype '" + dt + "'");
    td.dtype = *d;
    td.shape = r.shape(r.field(t, "shape", path), path + ".shape");
    td.offset = r.unsigned_int(r.field(t, "offset", path), path + ".offset");
    td.nbytes = r.unsigned_int(r.field(t, "nbytes", path), path + ".nbytes");
    if (t.contains("quantization")) td.quant = r.quant(t["quantization"], path + ".quantization");
    return td;
}

// `path` is the array position until the name is known; later messages name the node.
NodeDef parse_node(const Reader& r, const json& v, std::string path) {
    const json& n = r.object(v, path);
    r.only_keys(n, {"name", "op", "inputs", "output", "weights", "attrs", "quantization"}, path);
    NodeDef nd;
    nd.name = r.string(r.field(n, "name", path), path + ".name");
    path = "node '" + nd.name + "'";
    nd.op = r.string(r.field(n, "op", path), path + ".op");
    nd.inputs = r.strings(r.field(n, "inputs", path), path + ".inputs");
    nd.output = r.string(r.field(n, "output", path), path + ".output");
    if (n.contains("weights")) {
        const json& wm = r.object(n["weights"], path + ".weights");
        for (auto it = wm.begin(); it != wm.end(); ++it) {
            nd.weights[it.key()] = r.string(it.value(), path + ".weights." + it.key());
        }
    }
    if (n.contains("attrs")) {
        const json& am = r.object(n["attrs"], path + ".attrs");
        for (auto it = am.begin(); it != am.end(); ++it) {
            nd.attrs[it.key()] = r.attr(it.value(), path + ".attrs." + it.key());
        }
    }
    if (n.contains("quantization")) nd.dst_quant = r.quant(n["quantization"], path + ".quantization");
    return nd;
}

// Parses each element of the array `key` with `parse(reader, element, "key[i]")`.
template <typename T, typename Parse>
std::vector<T> parse_array(const Reader& r, const json& root, const std::string& key, Parse parse) {
    const json& items = r.array(r.field(root, key, "(document)"), key);
    std::vector<T> out;
    for (size_t i = 0; i < items.size(); ++i) out.push_back(parse(r, items[i], key + "[" + std::to_string(i) + "]"));
    return out;
}

}  // namespace

std::string hex64(uint64_t value) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016" PRIx64, value);
    return buf;
}

const char* checksum_name(ChecksumKind kind) { return kind == ChecksumKind::Crc32c ? "crc32c" : "fnv1a64"; }

std::string checksum_hex(const WeightsChecksum& sum) {
    return sum.kind == ChecksumKind::Crc32c ? hex64(sum.value).substr(8) : hex64(sum.value);
}

ModelDef parse_manifest(const std::string& json_text, const std::string& where) {
    Reader r(where);
    const json root = parse_root(r, json_text, where);
    const int64_t version = check_format(r, root, where);

    ModelDef def;
    def.name = r.string(r.field(root, "name", "(document)"), "name");
    if (root.contains("source")) def.source = r.string(root["source"], "source");
    parse_weights(r, root, version, def);
    def.alignment = r.unsigned_int(r.field(root, "alignment", "(document)"), "alignment");
    parse_input(r, root, def);
    def.preprocess = parse_preprocess(r, r.field(root, "preprocess", "(document)"));
    if (root.contains("labels")) def.labels = r.strings(root["labels"], "labels");
    if (root.contains("background_class")) def.background_class = r.boolean(root["background_class"], "background_class");
    def.outputs = parse_array<OutputDef>(r, root, "outputs", parse_output);
    def.tensors = parse_array<TensorDef>(r, root, "tensors", parse_tensor);
    def.nodes = parse_array<NodeDef>(r, root, "nodes", parse_node);
    return def;
}

std::string serialize_manifest(const ModelDef& def) {
    json root;
    root["format"] = format::kFormatName;
    // A model read from a version 1 manifest is written back as one: its checksum is an FNV-1a.
    root["format_version"] = def.weights_checksum.kind == ChecksumKind::Fnv1a64 ? 1 : format::kFormatVersion;
    root["name"] = def.name;
    if (!def.source.empty()) root["source"] = def.source;
    root["weights"] = {{"file", def.weights_file}, {"size", def.weights_size},
                       {checksum_name(def.weights_checksum.kind), checksum_hex(def.weights_checksum)}};
    root["alignment"] = def.alignment;
    json in = {{"name", def.input.name}, {"shape", def.input.shape}, {"dtype", "f32"}, {"layout", "nchw"}};
    if (def.input.quant) in["quantization"] = quant_json(*def.input.quant);
    root["input"] = in;
    const Preprocess& p = def.preprocess;
    root["preprocess"] = {{"height", p.height}, {"width", p.width}, {"crop", p.crop},
                          {"color", p.color == ColorOrder::RGB ? "rgb" : "bgr"},
                          {"mean", p.mean}, {"std", p.std}};
    root["labels"] = def.labels;
    root["background_class"] = def.background_class;
    json outs = json::array();
    for (const OutputDef& o : def.outputs) outs.push_back({{"name", o.name}, {"kind", output_kind_name(o.kind)}});
    root["outputs"] = outs;
    json tensors = json::array();
    for (const TensorDef& t : def.tensors) {
        json j = {{"name", t.name}, {"dtype", dtype_name(t.dtype)}, {"shape", t.shape},
                  {"offset", t.offset}, {"nbytes", t.nbytes}};
        if (t.quant) j["quantization"] = quant_json(*t.quant);
        tensors.push_back(j);
    }
    root["tensors"] = tensors;
    json nodes = json::array();
    for (const NodeDef& n : def.nodes) {
        json j = {{"name", n.name}, {"op", n.op}, {"inputs", n.inputs}, {"output", n.output}};
        if (!n.weights.empty()) j["weights"] = n.weights;
        if (!n.attrs.empty()) {
            json a = json::object();
            for (const auto& [k, v] : n.attrs) a[k] = attr_json(v);
            j["attrs"] = a;
        }
        if (n.dst_quant) j["quantization"] = quant_json(*n.dst_quant);
        nodes.push_back(j);
    }
    root["nodes"] = nodes;
    // Labels come from users' files: invalid UTF-8 is replaced rather than refused.
    return root.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace mnet
