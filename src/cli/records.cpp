// SPDX-License-Identifier: Apache-2.0
#include "cli/records.h"

#include <nlohmann/json.hpp>

#include "cli/predictions.h"
#include "mnet/error.h"

namespace mnet::cli {

using json = nlohmann::json;

Record parse_record(const std::string& line, const std::string& name, unsigned long long line_number) {
    const auto bad = [&](const std::string& what) {
        return Error(ErrorCode::InvalidArgument,
                     name + ":" + std::to_string(line_number) + ": not an mnet batch JSONL record (" + what + ")");
    };
    const json record = json::parse(line, nullptr, false);
    if (record.is_discarded()) throw bad("not JSON");
    if (!record.is_object()) throw bad("not a JSON object");
    const auto file = record.find("file");
    if (file == record.end() || !file->is_string()) throw bad("no \"file\" string");
    return Record{file->get<std::string>(), record.contains("error")};
}

std::string record_file_of(const std::string& path) { return shown_file_name(path); }

}  // namespace mnet::cli
