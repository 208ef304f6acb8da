// SPDX-License-Identifier: Apache-2.0
// Reading back the JSONL records `mnet batch` writes, for --resume and `mnet merge`: which file each complete
// line is about, and whether it is an error record.
#pragma once

#include <cstddef>
#include <string>

namespace mnet::cli {

// A record line with -k 100000 is about 7 MB; anything longer is not ours.
constexpr size_t kMaxRecordBytes = 64u << 20;

struct Record {
    std::string file;  // the "file" value, decoded
    bool error = false;  // an {"file","error"} record
    size_t predictions = 0;  // entries of its "predictions"
    bool features = false;   // a --features record ("features" instead of predictions)
};

// The record on `line`, line `line_number` of `name`. Throws Error(InvalidArgument) "NAME:LINE: ..." when the
// line is not a JSON object with a string "file".
Record parse_record(const std::string& line, const std::string& name, unsigned long long line_number);

// The record on `line` (as parse_record) as a row of batch's CSV (predictions_csv_row) with `top` prediction
// columns; `precision` is empty for an error record, which does not name it. Throws Error(InvalidArgument)
// "NAME:LINE: ..." for a record that is not a predictions or error record as batch writes them.
std::string record_csv_row(const std::string& line, int top, const std::string& name,
                           unsigned long long line_number);

// The "file" value a record for `path` holds once read back: the path itself when it is valid UTF-8, else its
// escaped form (shown_file_name; such records also carry the exact bytes in "file_bytes").
std::string record_file_of(const std::string& path);

}  // namespace mnet::cli
