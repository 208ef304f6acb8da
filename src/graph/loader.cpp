// SPDX-License-Identifier: Apache-2.0
#include "graph/loader.h"

#include <filesystem>

#include "core/file_io.h"
#include "model/manifest.h"
#include "mnet/error.h"

namespace mnet {

namespace fs = std::filesystem;

namespace {

// A manifest is a few hundred kilobytes (labels dominate); io::kMaxJsonBytes is far above that.
std::string read_manifest(const std::string& path) {
    return io::read_regular(path, io::kMaxJsonBytes, "model manifest", ErrorCode::ModelFormat);
}

// The weights file must be a plain name that resolves, symlinks followed, inside the manifest's folder: a
// downloaded model must not be able to make mnet read /etc/passwd or a file of a neighbouring project.
std::string resolve_weights_path(const std::string& manifest_path, const std::string& file) {
    // Shown in errors: a control character (a NUL above all) would cut or garble the message.
    const std::string shown = io::printable(file);
    if (file.empty() || file == "." || file == ".." || file.find('/') != std::string::npos ||
        file.find('\\') != std::string::npos || file.find('\0') != std::string::npos) {
        throw Error(ErrorCode::ModelFormat, manifest_path + ": weights.file \"" + shown +
                                                "\" must be a plain file name in the manifest's folder");
    }
    const std::optional<std::string> target = io::resolve_inside(fs::path(manifest_path).parent_path().string(), file);
    if (!target) {
        throw Error(ErrorCode::ModelFormat, manifest_path + ": weights.file \"" + shown +
                                                "\" resolves outside the manifest's folder");
    }
    return *target;
}

void check_finite_weights(const ModelDef& def, const WeightFile& weights, const std::string& path) {
    for (const TensorDef& t : def.tensors) {
        if (t.dtype == DType::F32) check_finite_f32(weights.data() + t.offset, t.nbytes, t.name, path + ": ");
    }
}

std::shared_ptr<const Model> finish(std::unique_ptr<Model::Impl> impl, const std::string& weights_where);

}  // namespace

std::shared_ptr<const Model> Model::load(const std::string& json_path) {
    const std::string text = read_manifest(json_path);
    ModelDef def = parse_manifest(text, json_path);
    const std::string weights_path = resolve_weights_path(json_path, def.weights_file);
    WeightFile weights = WeightFile::read(weights_path);
    return finish(std::make_unique<Impl>(json_path, std::move(def), std::move(weights)), weights_path);
}

std::shared_ptr<const Model> load_model_from_memory(const std::string& manifest, std::vector<uint8_t> weights,
                                                    const std::string& where) {
    ModelDef def = parse_manifest(manifest, where);
    return finish(std::make_unique<Model::Impl>(where, std::move(def), WeightFile::from_bytes(weights)),
                  where + " (weights)");
}

// The one friend of Model: builds one from its parts and hands the parts to the engine.
struct ModelAccess {
    static std::shared_ptr<const Model> make(std::unique_ptr<Model::Impl> impl) {
        // std::make_shared cannot reach the private constructor.
        return std::shared_ptr<const Model>(new Model(std::move(impl)));
    }
    static const Model::Impl& impl(const Model& model) { return *model.impl_; }
};

const Model::Impl& model_impl(const Model& model) { return ModelAccess::impl(model); }

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;

namespace {

std::shared_ptr<const Model> finish(std::unique_ptr<Model::Impl> impl, const std::string& weights_where) {
    check_weights_header(impl->weights, impl->def.weights_size, impl->def.weights_checksum, weights_where);
    impl->graph = build_graph(impl->def, impl->weights, impl->path);
    check_finite_weights(impl->def, impl->weights, impl->path);  // after build_graph has checked every range
    const Graph& g = impl->graph;

    if (!impl->def.labels.empty()) {
        // Elements per image: the classes of [1, C] and of [1, C, 1, 1] alike.
        const int64_t classes = shape_numel(g.values[g.outputs[0]].shape);
        if (static_cast<int64_t>(impl->def.labels.size()) != classes) {
            throw Error(ErrorCode::ModelFormat, impl->path + ": " + std::to_string(impl->def.labels.size()) +
                                                    " labels for an output of " + std::to_string(classes) + " classes");
        }
    }
    for (size_t i = 0; i < impl->def.outputs.size(); ++i) {
        impl->outputs.push_back(OutputInfo{impl->def.outputs[i].name, impl->def.outputs[i].kind,
                                           g.values[g.outputs[i]].shape});
    }
    for (const Node& n : g.nodes) {
        LayerInfo l;
        l.name = n.name;
        l.op = op_name(n.op);
        l.activation = activation_name(n.activation);
        for (int in : n.inputs) l.inputs.push_back(g.values[in].name);
        l.output = g.values[n.output].name;
        l.dst_shape = g.values[n.output].shape;
        l.params = n.params;
        l.macs = n.macs;
        if (n.op == OpKind::Conv2d) {
            l.kernel_h = n.window.kernel_h;
            l.kernel_w = n.window.kernel_w;
            l.stride_h = n.window.stride_h;
            l.stride_w = n.window.stride_w;
            l.groups = n.groups;
            l.in_channels = g.values[n.inputs[0]].shape[1];
            l.out_channels = l.dst_shape[1];
        }
        impl->layers.push_back(std::move(l));
    }
    return ModelAccess::make(std::move(impl));
}

}  // namespace

const std::string& Model::name() const { return impl_->def.name; }
const std::string& Model::path() const { return impl_->path; }
Shape Model::input_shape() const { return impl_->def.input.shape; }
const Preprocess& Model::preprocess() const { return impl_->def.preprocess; }
const std::vector<std::string>& Model::labels() const { return impl_->def.labels; }
const std::vector<OutputInfo>& Model::outputs() const { return impl_->outputs; }
const std::vector<LayerInfo>& Model::layers() const { return impl_->layers; }

int64_t Model::total_macs() const {
    int64_t total = 0;
    for (const LayerInfo& l : impl_->layers) total += l.macs;
    return total;
}

int64_t Model::total_params() const {
    int64_t total = 0;
    for (const LayerInfo& l : impl_->layers) total += l.params;
    return total;
}

bool Model::has_quantization() const {
    if (impl_->def.input.quant) return true;
    for (const NodeDef& n : impl_->def.nodes) {
        if (n.dst_quant) return true;
    }
    return false;
}

const ModelDef& write_loadable(ModelWriter& writer, const std::string& json_path, const std::string& source) {
    writer.write(json_path);
    try {
        Model::load(json_path);
    } catch (const Error& e) {
        // Only what this wrote as files: -o /dev/null must not remove /dev/null.
        for (const fs::path& p : {fs::path(json_path).replace_extension(".bin"), fs::path(json_path)}) {
            std::error_code ignored;
            if (fs::is_regular_file(fs::symlink_status(p, ignored))) fs::remove(p, ignored);
        }
        throw Error(e.code(), source + ": the converted model does not load: " + e.what());
    }
    return writer.def();
}

}  // namespace mnet
