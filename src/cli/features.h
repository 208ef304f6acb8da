// SPDX-License-Identifier: Apache-2.0
// `--features`: which output of a model is its feature vector (embedding).
#pragma once

#include <memory>
#include <string>

#include "mnet/model.h"

namespace mnet::cli {

struct FeatureSource {
    std::shared_ptr<const Model> model;  // the model to run: the given one, or it with every node output exposed
    size_t output = 0;                   // the output that holds the features
    std::string name;                    // that value's name, for the records
};

// The model's first output of kind "feature" when it has one (an embedding model, a Teachable Machine export);
// else, for a classifier, the input of its classifier layer (the last conv2d/fully_connected before the
// reshape/softmax that end the graph, e.g. MobileNetV2's 1280 pooled values), exposed with with_every_output.
// Throws Error(InvalidArgument) when neither exists.
FeatureSource feature_source(const std::shared_ptr<const Model>& model);

}  // namespace mnet::cli
