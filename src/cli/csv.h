// SPDX-License-Identifier: Apache-2.0
// RFC 4180 CSV fields: quoting for the files mnet writes, splitting for the label lists eval reads.
#pragma once

#include <istream>
#include <string>
#include <vector>

namespace mnet::cli {

// `s` as one CSV field: quoted only when it holds a comma, quote, CR or LF or starts or ends with a space;
// inner quotes doubled.
std::string csv_field(const std::string& s);

// Reads one record from `in` into `fields` (a quoted field may span lines; CRLF or LF line ends).
// Returns false at end of input with nothing read. Throws Error(InvalidArgument) naming `name` and the line
// for an unterminated quote.
bool read_csv_record(std::istream& in, std::vector<std::string>& fields, const std::string& name, size_t& line);

}  // namespace mnet::cli
