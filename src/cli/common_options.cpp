// SPDX-License-Identifier: Apache-2.0
#include "cli/common_options.h"

#include <cstdlib>
#include <filesystem>

#include "mnet/error.h"

namespace fs = std::filesystem;

namespace mnet::cli {

std::string model_dir() {
    const char* env = std::getenv("MNET_MODEL_DIR");
    return (env && *env) ? env : MNET_DEFAULT_MODEL_DIR;
}

CLI::Option* add_model_option(CLI::App* sub, std::string& model) {
    return sub->add_option("-m,--model", model,
                           "Model: a manifest .json path, or a name in the model folder ($MNET_MODEL_DIR, default "
                           "models/), e.g. -m mobilenet_v1_0.75_192_quant. Default: " +
                               std::string(kDefaultModelName));
}

CLI::Option* add_threads_option(CLI::App* sub, int& threads) {
    return sub->add_option("-t,--threads", threads, "Compute threads, 0 = all cores (e.g. -t 2)")
        ->check(CLI::Range(0, 1024));
}

std::string resolve_model_path(const std::string& name_or_path) {
    const std::string name = name_or_path.empty() ? kDefaultModelName : name_or_path;
    std::error_code ec;
    if (fs::is_regular_file(name, ec)) return name;
    if (name.find('/') == std::string::npos && name.find(".json") == std::string::npos) {
        const fs::path dir(model_dir());
        for (const fs::path& candidate : {dir / name / (name + ".json"), dir / (name + ".json")}) {
            if (fs::is_regular_file(candidate, ec)) return candidate.string();
        }
        std::string hint = name_or_path.empty() ? " (the default model; run scripts/fetch_models.sh)" : "";
        throw Error(ErrorCode::Io, "model '" + name + "' not found in " + dir.string() + hint);
    }
    throw Error(ErrorCode::Io, name + ": no such model file");
}

std::shared_ptr<const Model> load_model(const std::string& name_or_path) {
    return Model::load(resolve_model_path(name_or_path));
}

bool is_stdout(const std::string& path) { return path.empty() || path == "-"; }

}  // namespace mnet::cli
