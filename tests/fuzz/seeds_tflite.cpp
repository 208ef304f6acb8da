// SPDX-License-Identifier: Apache-2.0
// A real TFLite model cut down to its first operators, for the fuzz seed corpus: a few kilobytes instead of
// megabytes, so libFuzzer runs it hundreds of times faster and its mutations land on the structure rather than
// on the weights. Written with the schema subset the importer reads (tools/tflite/tflite_subset.fbs).
#include <algorithm>
#include <map>
#include <stdexcept>

#include "seeds_internal.h"
#include "tflite_subset_generated.h"

namespace mnet::fuzz {

namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

// TFLite buffers hold their data 16-byte aligned (schema: force_align: 16).
constexpr size_t kBufferAlignment = 16;

// Re-creates an operator's options table in `fbb`: one case per options type of the schema subset.
Offset<void> copy_options(FlatBufferBuilder& fbb, const tflite::Operator& op) {
    switch (op.builtin_options_type()) {
        case tflite::BuiltinOptions_Conv2DOptions: {
            const auto* o = op.builtin_options_as_Conv2DOptions();
            return tflite::CreateConv2DOptions(fbb, o->padding(), o->stride_w(), o->stride_h(),
                                               o->fused_activation_function(), o->dilation_w_factor(),
                                               o->dilation_h_factor()).Union();
        }
        case tflite::BuiltinOptions_DepthwiseConv2DOptions: {
            const auto* o = op.builtin_options_as_DepthwiseConv2DOptions();
            return tflite::CreateDepthwiseConv2DOptions(fbb, o->padding(), o->stride_w(), o->stride_h(),
                                                        o->depth_multiplier(), o->fused_activation_function(),
                                                        o->dilation_w_factor(), o->dilation_h_factor()).Union();
        }
        case tflite::BuiltinOptions_Pool2DOptions: {
            const auto* o = op.builtin_options_as_Pool2DOptions();
            return tflite::CreatePool2DOptions(fbb, o->padding(), o->stride_w(), o->stride_h(), o->filter_width(),
                                               o->filter_height(), o->fused_activation_function()).Union();
        }
        case tflite::BuiltinOptions_FullyConnectedOptions: {
            const auto* o = op.builtin_options_as_FullyConnectedOptions();
            return tflite::CreateFullyConnectedOptions(fbb, o->fused_activation_function(), o->weights_format(),
                                                       o->keep_num_dims()).Union();
        }
        case tflite::BuiltinOptions_SoftmaxOptions:
            return tflite::CreateSoftmaxOptions(fbb, op.builtin_options_as_SoftmaxOptions()->beta()).Union();
        case tflite::BuiltinOptions_ConcatenationOptions: {
            const auto* o = op.builtin_options_as_ConcatenationOptions();
            return tflite::CreateConcatenationOptions(fbb, o->axis(), o->fused_activation_function()).Union();
        }
        case tflite::BuiltinOptions_AddOptions:
            return tflite::CreateAddOptions(fbb, op.builtin_options_as_AddOptions()->fused_activation_function()).Union();
        case tflite::BuiltinOptions_MulOptions:
            return tflite::CreateMulOptions(fbb, op.builtin_options_as_MulOptions()->fused_activation_function()).Union();
        case tflite::BuiltinOptions_ReshapeOptions: {
            const auto* shape = op.builtin_options_as_ReshapeOptions()->new_shape();
            return tflite::CreateReshapeOptions(
                       fbb, shape ? fbb.CreateVector(shape->data(), shape->size()) : 0).Union();
        }
        case tflite::BuiltinOptions_PadOptions: return tflite::CreatePadOptions(fbb).Union();
        case tflite::BuiltinOptions_ReducerOptions:
            return tflite::CreateReducerOptions(fbb, op.builtin_options_as_ReducerOptions()->keep_dims()).Union();
        default: return 0;  // NONE, or an options type outside the subset: the importer sees none either
    }
}

class PrefixWriter {
public:
    explicit PrefixWriter(const tflite::Model& model) : model_(model), graph_(*model.subgraphs()->Get(0)) {
        buffers_.push_back(tflite::CreateBuffer(fbb_));  // buffers[0]: the empty sentinel
    }

    std::string write(size_t max_ops) {
        std::vector<Offset<tflite::Operator>> ops;
        std::vector<int32_t> last_outputs;
        if (!graph_.operators() || graph_.operators()->size() == 0) throw std::runtime_error("fuzz seeds: no operators");
        const size_t count = std::min<size_t>(max_ops, graph_.operators()->size());
        for (size_t i = 0; i < count; ++i) {
            const tflite::Operator& op = *graph_.operators()->Get(static_cast<uint32_t>(i));
            const std::vector<int32_t> inputs = remap(op.inputs());
            last_outputs = remap(op.outputs());
            const Offset<void> options = copy_options(fbb_, op);
            ops.push_back(tflite::CreateOperator(fbb_, op.opcode_index(), fbb_.CreateVector(inputs),
                                                 fbb_.CreateVector(last_outputs),
                                                 options.IsNull() ? tflite::BuiltinOptions_NONE : op.builtin_options_type(),
                                                 options));
        }
        const std::vector<int32_t> inputs = remap(graph_.inputs());
        std::vector<Offset<tflite::OperatorCode>> codes;
        for (const tflite::OperatorCode* c : *model_.operator_codes()) {
            codes.push_back(tflite::CreateOperatorCode(
                fbb_, c->deprecated_builtin_code(), c->custom_code() ? fbb_.CreateString(c->custom_code()) : 0,
                c->version(), c->builtin_code()));
        }
        const auto graph = tflite::CreateSubGraph(fbb_, fbb_.CreateVector(tensors_), fbb_.CreateVector(inputs),
                                                  fbb_.CreateVector(last_outputs), fbb_.CreateVector(ops));
        const auto model = tflite::CreateModel(
            fbb_, model_.version(), fbb_.CreateVector(codes), fbb_.CreateVector(std::vector{graph}),
            fbb_.CreateString("mnet fuzz seed: the first " + std::to_string(count) + " operators of a real model"),
            fbb_.CreateVector(buffers_));
        tflite::FinishModelBuffer(fbb_, model);
        return std::string(reinterpret_cast<const char*>(fbb_.GetBufferPointer()), fbb_.GetSize());
    }

private:
    std::vector<int32_t> remap(const flatbuffers::Vector<int32_t>* indices) {
        std::vector<int32_t> out;
        if (indices) {
            for (int32_t i : *indices) out.push_back(i < 0 ? i : keep(i));
        }
        return out;
    }

    // The new index of old tensor `index`, copying it (and its data) on first use.
    int32_t keep(int32_t index) {
        if (auto it = kept_.find(index); it != kept_.end()) return it->second;
        // The importer checks these indices in the files it reads; the seed builder reads only the shared models,
        // but says so plainly if one is inconsistent rather than reading out of bounds.
        if (!graph_.tensors() || static_cast<uint32_t>(index) >= graph_.tensors()->size()) {
            throw std::runtime_error("fuzz seeds: tensor index " + std::to_string(index) + " out of range");
        }
        const tflite::Tensor& t = *graph_.tensors()->Get(static_cast<uint32_t>(index));
        if (t.buffer() >= model_.buffers()->size()) {
            throw std::runtime_error("fuzz seeds: buffer index " + std::to_string(t.buffer()) + " out of range");
        }
        uint32_t buffer = 0;
        const tflite::Buffer* source = model_.buffers()->Get(t.buffer());
        if (source->data() && source->data()->size() > 0) {
            fbb_.ForceVectorAlignment(source->data()->size(), sizeof(uint8_t), kBufferAlignment);
            buffers_.push_back(tflite::CreateBuffer(fbb_, fbb_.CreateVector(source->data()->data(), source->data()->size())));
            buffer = static_cast<uint32_t>(buffers_.size() - 1);
        }
        Offset<tflite::QuantizationParameters> quant = 0;
        if (const tflite::QuantizationParameters* q = t.quantization()) {
            quant = tflite::CreateQuantizationParameters(
                fbb_, q->scale() ? fbb_.CreateVector(q->scale()->data(), q->scale()->size()) : 0,
                q->zero_point() ? fbb_.CreateVector(q->zero_point()->data(), q->zero_point()->size()) : 0,
                tflite::QuantizationDetails_NONE, 0, q->quantized_dimension());
        }
        const auto shape = t.shape() ? fbb_.CreateVector(t.shape()->data(), t.shape()->size()) : 0;
        tensors_.push_back(tflite::CreateTensor(fbb_, shape, t.type(), buffer,
                                                t.name() ? fbb_.CreateString(t.name()) : 0, quant));
        const auto new_index = static_cast<int32_t>(tensors_.size() - 1);
        kept_.emplace(index, new_index);
        return new_index;
    }

    const tflite::Model& model_;
    const tflite::SubGraph& graph_;
    FlatBufferBuilder fbb_;
    std::vector<Offset<tflite::Tensor>> tensors_;
    std::vector<Offset<tflite::Buffer>> buffers_;
    std::map<int32_t, int32_t> kept_;
};

}  // namespace

std::string tflite_prefix(const std::string& bytes, size_t max_ops, const std::string& what) {
    flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    if (!tflite::VerifyModelBuffer(verifier)) throw std::runtime_error("fuzz seeds: " + what + ": not a TFLite model");
    const tflite::Model& model = *tflite::GetModel(bytes.data());
    if (!model.subgraphs() || model.subgraphs()->size() == 0 || !model.operator_codes() || !model.buffers()) {
        throw std::runtime_error("fuzz seeds: " + what + ": no subgraph, operator codes or buffers");
    }
    return PrefixWriter(model).write(max_ops);
}

}  // namespace mnet::fuzz
