// SPDX-License-Identifier: Apache-2.0
#include "cli/predictions.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <nlohmann/json.hpp>

#include "core/file_io.h"

namespace mnet::cli {

using json = nlohmann::ordered_json;  // keys in the documented order: file first

std::string shown_file_name(const std::string& file) {
    return io::is_valid_utf8(file) ? file : io::printable(file);
}

std::string file_bytes_field(const std::string& file) { return io::is_valid_utf8(file) ? "" : io::base64(file); }

namespace {

// {"file": ...} with "file_bytes" after it when the name is not UTF-8: JSON strings must be Unicode, and
// replacing bad bytes with U+FFFD would give x\xff.jpg and x\xfe.jpg the same name.
json file_record(const std::string& file) {
    json line{{"file", shown_file_name(file)}};
    if (!io::is_valid_utf8(file)) line["file_bytes"] = io::base64(file);
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
