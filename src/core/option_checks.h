// SPDX-License-Identifier: Apache-2.0
// Command-line checks shared by `mnet` and `mnet-convert`. A template over CLI11's App so that core itself does
// not depend on CLI11 (only the two programs, which parse with it, instantiate it).
#pragma once

#include <string>

namespace mnet {

// Every option of `app` and of its subcommands that takes a value refuses an empty one: `-o ''`, `--shard ''`
// or `-m ''` is a mistake (an unset shell variable, most often), never "not given" nor 0. Call after all options
// are added and before parsing.
template <class App>
void refuse_empty_values(App& app) {
    for (auto* option : app.get_options()) {
        if (option->get_type_size() == 0) continue;  // a flag: no value
        option->check([](const std::string& value) {
            return value.empty() ? std::string("an empty value is not allowed") : std::string();
        });
    }
    for (auto* sub : app.get_subcommands([](auto*) { return true; })) refuse_empty_values(*sub);
}

}  // namespace mnet
