// SPDX-License-Identifier: Apache-2.0
#include "cli/predictions.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <nlohmann/json.hpp>

namespace mnet::cli {

using json = nlohmann::ordered_json;  // keys in the documented order: file first

std::vector<Prediction> top_k(const Model& model, const float* scores, int64_t count, int k) {
    std::vector<float> probs(scores, scores + count);
    if (model.outputs().at(0).kind == OutputKind::Logits) {
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

std::string label_of(const Model& model, int64_t index) {
    const auto& labels = model.labels();
    if (index >= 0 && static_cast<size_t>(index) < labels.size()) return labels[static_cast<size_t>(index)];
    return "class " + std::to_string(index);
}

std::string predictions_json(const std::string& file, const std::string& model,
                             const std::vector<Prediction>& predictions, const char* precision) {
    json preds = json::array();
    for (const Prediction& p : predictions) {
        preds.push_back({{"index", p.index}, {"label", p.label}, {"probability", p.probability}});
    }
    const json line{{"file", file}, {"model", model}, {"predictions", preds}, {"precision", precision}};
    return line.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string error_json(const std::string& file, const std::string& model, const std::string& error) {
    return json{{"file", file}, {"model", model}, {"error", error}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string features_json(const std::string& file, const std::string& model, const std::string& output,
                          const float* values, int64_t count) {
    const json line{{"file", file}, {"model", model}, {"output", output},
                    {"features", std::vector<float>(values, values + count)}};
    return line.dump(-1, ' ', false, json::error_handler_t::replace);
}

size_t display_width(const std::string& s) {
    size_t width = 0;
    for (size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        uint32_t cp = c;
        size_t len = 1;
        if (c >= 0xF0) {
            len = 4;
            cp = c & 0x07;
        } else if (c >= 0xE0) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xC0) {
            len = 2;
            cp = c & 0x1F;
        }
        for (size_t j = 1; j < len && i + j < s.size(); ++j) cp = (cp << 6) | (static_cast<unsigned char>(s[i + j]) & 0x3F);
        i += len;
        // East Asian wide ranges: Hangul, CJK, Hiragana/Katakana, full-width forms.
        const bool wide = (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
                          (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
                          (cp >= 0xFF00 && cp <= 0xFF60) || (cp >= 0xFFE0 && cp <= 0xFFE6);
        width += wide ? 2 : 1;
    }
    return width;
}

}  // namespace mnet::cli
