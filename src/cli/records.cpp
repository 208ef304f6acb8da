// SPDX-License-Identifier: Apache-2.0
#include "cli/records.h"

#include <vector>

#include <nlohmann/json.hpp>

#include "cli/predictions.h"
#include "mnet/error.h"

namespace mnet::cli {

using json = nlohmann::json;

namespace {

Error not_a_record(const std::string& name, unsigned long long line_number, const std::string& what) {
    return Error(ErrorCode::InvalidArgument,
                 name + ":" + std::to_string(line_number) + ": not an mnet batch JSONL record (" + what + ")");
}

json parse_object(const std::string& line, const std::string& name, unsigned long long line_number) {
    json record = json::parse(line, nullptr, false);
    if (record.is_discarded()) throw not_a_record(name, line_number, "not JSON");
    if (!record.is_object()) throw not_a_record(name, line_number, "not a JSON object");
    const auto file = record.find("file");
    if (file == record.end() || !file->is_string()) throw not_a_record(name, line_number, "no \"file\" string");
    return record;
}

// The string `key` of `record`, "" when absent; throws when it is there and not a string.
std::string string_of(const json& record, const char* key, const std::string& name, unsigned long long line_number) {
    const auto it = record.find(key);
    if (it == record.end()) return "";
    if (!it->is_string()) throw not_a_record(name, line_number, std::string("\"") + key + "\" is not a string");
    return it->get<std::string>();
}

}  // namespace

Record parse_record(const std::string& line, const std::string& name, unsigned long long line_number) {
    const json record = parse_object(line, name, line_number);
    const auto predictions = record.find("predictions");
    return Record{record.at("file").get<std::string>(), record.contains("error"),
                  predictions != record.end() && predictions->is_array() ? predictions->size() : 0,
                  record.contains("features")};
}

std::string record_csv_row(const std::string& line, int top, const std::string& name,
                           unsigned long long line_number) {
    const json record = parse_object(line, name, line_number);
    if (record.contains("features")) {
        throw not_a_record(name, line_number, "a --features record has no CSV form; merge it as jsonl");
    }
    std::vector<Prediction> predictions;
    const auto list = record.find("predictions");
    if (list != record.end()) {
        if (!list->is_array()) throw not_a_record(name, line_number, "\"predictions\" is not an array");
        for (const json& p : *list) {
            const auto index = p.find("index");
            const auto probability = p.find("probability");
            if (!p.is_object() || index == p.end() || !index->is_number_integer() || probability == p.end() ||
                !probability->is_number()) {
                throw not_a_record(name, line_number, "a prediction without an integer index and a probability");
            }
            // Written from a float: the float is recovered exactly, and prints as batch printed it.
            predictions.push_back(Prediction{index->get<int64_t>(), string_of(p, "label", name, line_number),
                                             probability->get<float>()});
        }
    }
    return predictions_csv_row(record.at("file").get<std::string>(), string_of(record, "file_bytes", name, line_number),
                               predictions, top, string_of(record, "error", name, line_number),
                               string_of(record, "precision", name, line_number),
                               string_of(record, "model", name, line_number));
}

std::string record_file_of(const std::string& path) { return shown_file_name(path); }

}  // namespace mnet::cli
