// SPDX-License-Identifier: Apache-2.0
// From a classification output to ranked, labelled predictions, and their text and JSON forms.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mnet/model.h"
#include "mnet/predict.h"  // Prediction, top_k, label_of: the library's, as embedders get them

namespace mnet::cli {

// A file name as results show it: as is when it is valid UTF-8; else with every byte that is not escaped as \xNN
// (io::printable), which alone could be ambiguous, so the records then also carry file_bytes (below).
std::string shown_file_name(const std::string& file);
// The base64 of the name's bytes when it is not valid UTF-8 (the exact name, for a program), else empty.
std::string file_bytes_field(const std::string& file);
// Sets "file" (shown_file_name) in a JSON object and, for a name that is not valid UTF-8, "file_bytes"
// (file_bytes_field): how every JSON output names a file. JSON strings must be Unicode, and replacing bad bytes
// with U+FFFD would give x\xff.jpg and x\xfe.jpg the same name.
template <class Json>
void set_file_fields(Json& object, const std::string& file) {
    object["file"] = shown_file_name(file);
    if (const std::string bytes = file_bytes_field(file); !bytes.empty()) object["file_bytes"] = bytes;
}

// One JSON line: {"file":..., "file_bytes":... (only for a name that is not UTF-8), "model":...,
// "predictions":[{"index":..,"label":..,"probability":..}, ...], "precision":...} ("int8", "fp32" or "bf16", what ran).
std::string predictions_json(const std::string& file, const std::string& model,
                             const std::vector<Prediction>& predictions, const char* precision);
// One JSON line: {"file":..., "file_bytes":... (as above), "model":..., "error":...}.
std::string error_json(const std::string& file, const std::string& model, const std::string& error);
// One JSON line: {"file":..., "file_bytes":... (as above), "model":..., "output":..., "features":[...]}
// (a feature vector, --features).
std::string features_json(const std::string& file, const std::string& model, const std::string& output,
                          const float* values, int64_t count);

// The CSV form of the same records (docs/batch.md): the header for `top` predictions per file, then one row per
// file: file (shown_file_name), top<r>_index, top<r>_label, top<r>_probability for r = 1..top (empty past the
// predictions given), error (empty on success; made printable), precision, model, file_bytes
// (file_bytes_field). Each row ends in LF.
std::string predictions_csv_header(int top);
std::string predictions_csv_row(const std::string& shown_file, const std::string& file_bytes,
                                const std::vector<Prediction>& predictions, int top, const std::string& error,
                                const std::string& precision, const std::string& model);

// Display width of UTF-8 text in terminal columns (wide CJK characters count two), for aligned tables.
size_t display_width(const std::string& utf8);

}  // namespace mnet::cli
