// SPDX-License-Identifier: Apache-2.0
#include "mnet/predict.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "mnet/error.h"

namespace mnet {

std::vector<Prediction> top_k(const Model& model, const float* scores, int64_t count, int k) {
    const OutputInfo& output = model.outputs().at(0);
    if (output.kind == OutputKind::Feature) {
        throw Error(ErrorCode::InvalidArgument, "model '" + model.name() + "': output '" + output.name + "' is a " +
                                                    std::to_string(count) + "-value feature vector, not class scores "
                                                    "(classify --features prints it)");
    }
    std::vector<float> probs(scores, scores + count);
    if (output.kind == OutputKind::Logits && !probs.empty()) {
        const float max = *std::max_element(probs.begin(), probs.end());
        double sum = 0;
        for (float& p : probs) sum += (p = std::exp(p - max));
        for (float& p : probs) p = static_cast<float>(p / sum);
    }
    std::vector<int64_t> order(static_cast<size_t>(count));
    std::iota(order.begin(), order.end(), 0);
    const size_t n = std::min<size_t>(static_cast<size_t>(std::max(k, 0)), order.size());
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                      [&](int64_t a, int64_t b) { return probs[a] > probs[b] || (probs[a] == probs[b] && a < b); });
    std::vector<Prediction> out;
    for (size_t i = 0; i < n; ++i) out.push_back({order[i], label_of(model, order[i]), probs[order[i]]});
    return out;
}

std::vector<Prediction> top_k(const Model& model, const Tensor& output, int k, int64_t image) {
    const int64_t images = output.shape.empty() ? 0 : output.shape[0];
    if (image < 0 || image >= images) {
        throw Error(ErrorCode::InvalidArgument, "top_k: image " + std::to_string(image) + " of a batch of " +
                                                    std::to_string(images));
    }
    const int64_t per_image = output.numel() / images;
    return top_k(model, output.data.data() + image * per_image, per_image, k);
}

std::string label_of(const Model& model, int64_t index) {
    const auto& labels = model.labels();
    if (index >= 0 && static_cast<size_t>(index) < labels.size()) return labels[static_cast<size_t>(index)];
    return "class " + std::to_string(index);
}

}  // namespace mnet
