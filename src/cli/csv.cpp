// SPDX-License-Identifier: Apache-2.0
#include "cli/csv.h"

#include "mnet/error.h"

namespace mnet::cli {

std::string csv_field(const std::string& s) {
    const bool quote = s.find_first_of(",\"\r\n") != std::string::npos ||
                       (!s.empty() && (s.front() == ' ' || s.back() == ' '));
    if (!quote) return s;
    std::string out = "\"";
    for (char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

bool read_csv_record(std::istream& in, std::vector<std::string>& fields, const std::string& name, size_t& line) {
    fields.clear();
    std::string field;
    bool quoted = false;
    bool any = false;
    const size_t start_line = line + 1;
    char c = 0;
    while (in.get(c)) {
        any = true;
        if (quoted) {
            if (c == '"') {
                if (in.peek() == '"') {
                    in.get(c);
                    field += '"';
                } else {
                    quoted = false;
                }
            } else {
                if (c == '\n') ++line;
                field += c;
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            fields.push_back(std::move(field));
            field.clear();
        } else if (c == '\n') {
            ++line;
            if (!field.empty() && field.back() == '\r') field.pop_back();
            fields.push_back(std::move(field));
            return true;
        } else {
            field += c;
        }
    }
    if (quoted) {
        throw Error(ErrorCode::InvalidArgument,
                    name + ":" + std::to_string(start_line) + ": unterminated quoted field");
    }
    if (!any) return false;
    ++line;
    if (!field.empty() && field.back() == '\r') field.pop_back();
    fields.push_back(std::move(field));
    return true;
}

}  // namespace mnet::cli
