// SPDX-License-Identifier: Apache-2.0
// mnet models: the models installed in the model folders and those models/zoo.json knows, fetched or not.
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "common/exit_codes.h"
#include "cli/model_source.h"
#include "cli/output.h"
#include "cli/predictions.h"

namespace mnet::cli {

namespace {

void print_models(const std::string& format);

int run_models(const OutputFlags& out) {
    const std::string format = out.resolve();
    ResultOutput result(out.path);  // zoo.json is noted as it is read
    print_models(format);
    result.commit();
    return kExitOk;
}

void print_models(const std::string& format) {
    const std::vector<KnownModel> models = known_models();
    if (format == "json") {
        nlohmann::ordered_json doc = {{"model_dirs", nlohmann::json::array()}, {"models", nlohmann::json::array()}};
        for (const auto& dir : model_dirs()) doc["model_dirs"].push_back(dir.string());
        for (const KnownModel& m : models) {
            nlohmann::ordered_json j = {{"name", m.name}, {"installed", !m.manifest.empty()}};
            if (!m.manifest.empty()) j["manifest"] = m.manifest;
            if (!m.description.empty()) j["description"] = m.description;
            if (m.manifest.empty()) j["fetch"] = fetch_command(m.name);
            doc["models"].push_back(j);
        }
        std::printf("%s\n", doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
        return;
    }
    std::printf("model folders (searched in this order):\n");
    for (const auto& dir : model_dirs()) std::printf("  %s\n", dir.string().c_str());
    size_t width = 4;
    for (const KnownModel& m : models) width = std::max(width, display_width(m.name));
    std::printf("\n%-*s  %-9s  %s\n", static_cast<int>(width), "name", "installed", "where / how to fetch");
    for (const KnownModel& m : models) {
        const std::string where = m.manifest.empty() ? fetch_command(m.name) : m.manifest;
        std::printf("%-*s  %-9s  %s%s\n", static_cast<int>(width), m.name.c_str(), m.manifest.empty() ? "no" : "yes",
                    where.c_str(), m.name == kDefaultModelName ? "  (default)" : "");
    }
}

}  // namespace

void setup_models(CLI::App& app, int& status) {
    auto out = std::make_shared<OutputFlags>();
    CLI::App* sub = app.add_subcommand(
        "models",
        "The models installed in the model folders and those models/zoo.json knows, with how to fetch them\n"
        "  e.g. mnet models\n"
        "       mnet models --json");
    add_output_flags(sub, *out, {"table", "json"}, "json",
                     "table: name, installed, manifest path or fetch command; json: {\"model_dirs\", \"models\": "
                     "[{\"name\", \"installed\", \"manifest\" or \"fetch\", \"description\"}]}.");
    sub->callback([out, &status] { status = run_models(*out); });
}

}  // namespace mnet::cli
