// SPDX-License-Identifier: Apache-2.0
#include "cli/predictions.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <nlohmann/json.hpp>

#include "cli/csv.h"
#include "core/file_io.h"

namespace mnet::cli {

using json = nlohmann::ordered_json;  // keys in the documented order: file first

std::string shown_file_name(const std::string& file) {
    return io::is_valid_utf8(file) ? file : io::printable(file);
}

std::string file_bytes_field(const std::string& file) { return io::is_valid_utf8(file) ? "" : io::base64(file); }

namespace {

// {"file": ...} with "file_bytes" after it when the name is not UTF-8.
json file_record(const std::string& file) {
    json line = json::object();
    set_file_fields(line, file);
    return line;
}

}  // namespace

std::string predictions_json(const std::string& file, const std::string& model,
                             const std::vector<Prediction>& predictions, const char* precision) {
    json preds = json::array();
    for (const Prediction& p : predictions) {
        preds.push_back({{"index", p.index}, {"label", p.label}, {"probability", p.probability}});
    }
    json line = file_record(file);
    line["model"] = model;
    line["predictions"] = preds;
    line["precision"] = precision;
    return line.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string error_json(const std::string& file, const std::string& model, const std::string& error) {
    json line = file_record(file);
    line["model"] = model;
    line["error"] = io::printable(error);
    return line.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string features_json(const std::string& file, const std::string& model, const std::string& output,
                          const float* values, int64_t count) {
    json line = file_record(file);
    line["model"] = model;
    line["output"] = output;
    line["features"] = std::vector<float>(values, values + count);
    return line.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string predictions_csv_header(int top) {
    std::string line = "file";
    for (int r = 1; r <= top; ++r) {
        const std::string n = std::to_string(r);
        line += ",top" + n + "_index,top" + n + "_label,top" + n + "_probability";
    }
    return line + ",error,precision,model,file_bytes\n";
}

std::string predictions_csv_row(const std::string& shown_file, const std::string& file_bytes,
                                const std::vector<Prediction>& predictions, int top, const std::string& error,
                                const std::string& precision, const std::string& model) {
    std::string line = csv_field(shown_file);
    for (size_t r = 0; r < static_cast<size_t>(top); ++r) {
        if (r < predictions.size()) {
            // The same shortest round-trip text as the JSON output.
            line += "," + std::to_string(predictions[r].index) + "," + csv_field(predictions[r].label) + "," +
                    json(predictions[r].probability).dump();
        } else {
            line += ",,,";
        }
    }
    return line + "," + csv_field(io::printable(error)) + "," + precision + "," + csv_field(model) + "," +
           file_bytes + "\n";
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
