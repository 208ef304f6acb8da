// SPDX-License-Identifier: Apache-2.0
// mnet: from a classification output to ranked, labelled predictions (what `mnet classify` prints).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mnet/model.h"
#include "mnet/tensor.h"

namespace mnet {

struct Prediction {
    int64_t index = 0;
    std::string label;        // label_of(model, index)
    float probability = 0.f;
};

// The k most probable classes of one image's scores (`count` values of the model's classification output;
// logits go through a softmax first), highest first; ties keep the lower index first. Fewer than k when the
// output has fewer classes; none for k <= 0. Throws InvalidArgument when that output is a feature vector
// (OutputKind::Feature, e.g. a model converted with include_top=False): it holds no class scores.
std::vector<Prediction> top_k(const Model& model, const float* scores, int64_t count, int k);

// The same for image `image` of a session's classification output (Session::output(0), shape {batch, ...}).
// Throws InvalidArgument when `image` is outside the batch.
std::vector<Prediction> top_k(const Model& model, const Tensor& output, int k, int64_t image = 0);

// The label of class `index`, or "class <index>" when the model has no labels.
std::string label_of(const Model& model, int64_t index);

}  // namespace mnet
