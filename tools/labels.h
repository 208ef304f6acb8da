// SPDX-License-Identifier: Apache-2.0
// Label files for the importers: one UTF-8 label per line.
#pragma once

#include <string>
#include <vector>

namespace mnet {

// Reads one label per line; a byte-order mark, CR line ends and a final newline are tolerated. Throws Io when
// the file cannot be read, InvalidArgument when it is empty, too large or not UTF-8 text.
std::vector<std::string> read_labels(const std::string& path);

// True when `s` is valid UTF-8 with no control characters but tab: what a label line may hold.
bool valid_label_text(const std::string& s);

}  // namespace mnet
