// SPDX-License-Identifier: Apache-2.0
#include "labels.h"

#include "core/file_io.h"
#include "mnet/error.h"

namespace mnet {

bool valid_label_text(const std::string& s) {
    for (size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        const size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        if (len == 0 || i + len > s.size() || (len == 1 && c < 0x20 && c != '\t')) return false;
        for (size_t k = 1; k < len; ++k) {
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        }
        i += len;
    }
    return true;
}

// One label per line (UTF-8); a byte-order mark, CR line ends and a final newline are tolerated.

std::vector<std::string> read_labels(const std::string& path) {
    std::string text = io::read_regular(path, io::kMaxLabelsBytes, "label file", ErrorCode::InvalidArgument);
    if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
    std::vector<std::string> labels;
    for (size_t start = 0; start < text.size();) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(start, end - start);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!valid_label_text(line)) {
            throw Error(ErrorCode::InvalidArgument,
                        path + ": line " + std::to_string(labels.size() + 1) + " is not valid UTF-8 text");
        }
        labels.push_back(std::move(line));
        start = end + 1;
    }
    if (labels.empty()) throw Error(ErrorCode::InvalidArgument, path + ": no labels");
    return labels;
}

}  // namespace mnet
