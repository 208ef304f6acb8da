// SPDX-License-Identifier: Apache-2.0
#include "cli/features.h"

#include <map>

#include "mnet/error.h"
#include "mnet/quantize.h"

namespace mnet::cli {

FeatureSource feature_source(const std::shared_ptr<const Model>& model) {
    for (size_t i = 0; i < model->outputs().size(); ++i) {
        if (model->outputs()[i].kind == OutputKind::Feature) return {model, i, model->outputs()[i].name};
    }
    std::map<std::string, const LayerInfo*> producer;
    for (const LayerInfo& l : model->layers()) producer[l.output] = &l;
    // Back from the classification output over the ops that only reshape or normalise the scores.
    std::string value = model->outputs().at(0).name;
    auto it = producer.find(value);
    while (it != producer.end() &&
           (it->second->op == "softmax" || it->second->op == "reshape" || it->second->op == "identity") &&
           !it->second->inputs.empty()) {
        value = it->second->inputs[0];
        it = producer.find(value);
    }
    const bool classifier = it != producer.end() &&
                            (it->second->op == "conv2d" || it->second->op == "fully_connected") &&
                            !it->second->inputs.empty();
    if (classifier) {
        const std::string feature = it->second->inputs[0];
        std::shared_ptr<const Model> every = with_every_output(*model);
        for (size_t i = 0; i < every->outputs().size(); ++i) {
            if (every->outputs()[i].name == feature) return {every, i, feature};
        }
    }
    throw Error(ErrorCode::InvalidArgument, "--features: model '" + model->name() +
                                                "' has no feature output, and no classifier layer whose input could "
                                                "serve as one was found before its output '" +
                                                model->outputs().at(0).name + "'");
}

}  // namespace mnet::cli
