// SPDX-License-Identifier: Apache-2.0
#include "cli/eval_data.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <system_error>

#include "cli/csv.h"
#include "core/file_io.h"
#include "mnet/error.h"

namespace fs = std::filesystem;

namespace mnet::cli {

namespace {

// How many unmatched names one error message lists before "and N more".
constexpr size_t kMaxNamesListed = 20;

std::string normalise(const std::string& s) {
    std::string out;
    for (char c : s) out += c == '_' ? ' ' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const size_t b = out.find_first_not_of(' ');
    const size_t e = out.find_last_not_of(' ');
    return b == std::string::npos ? std::string() : out.substr(b, e - b + 1);
}

// Throws one error line naming every class name that matched no class or several.
void check_names(const std::set<std::string>& names, const ClassMatcher& matcher, const std::string& where,
                 const char* what) {
    std::vector<std::string> unknown;
    std::vector<std::string> ambiguous;
    for (const std::string& name : names) {
        const std::vector<int64_t> m = matcher.match(name);
        if (m.empty()) {
            unknown.push_back("'" + name + "'");
        } else if (m.size() > 1) {
            std::string list;
            for (int64_t i : m) list += (list.empty() ? "" : " and ") + std::to_string(i);
            ambiguous.push_back("'" + name + "' (classes " + list + ")");
        }
    }
    if (unknown.empty() && ambiguous.empty()) return;
    const auto join = [](const std::vector<std::string>& v) {
        std::string s;
        for (size_t i = 0; i < v.size() && i < kMaxNamesListed; ++i) s += (i ? ", " : "") + v[i];
        if (v.size() > kMaxNamesListed) s += " and " + std::to_string(v.size() - kMaxNamesListed) + " more";
        return s;
    };
    std::string msg = where + ": ";
    if (!unknown.empty()) {
        msg += std::to_string(unknown.size()) + " " + what + (unknown.size() == 1 ? " matches" : "s match") +
               " no class of the model: " + join(unknown);
    }
    if (!ambiguous.empty()) {
        msg += std::string(unknown.empty() ? "" : "; ") + std::to_string(ambiguous.size()) + " " + what +
               (ambiguous.size() == 1 ? " is" : "s are") + " ambiguous: " + join(ambiguous);
    }
    msg += " (name a class by its label, e.g. 'Egyptian cat', its first synonym, e.g. 'tabby', or its index 0-" +
           std::to_string(matcher.class_count() - 1) + ")";
    throw Error(ErrorCode::InvalidArgument, msg);
}

void sort_by_path(LabelledSet& set) {
    std::vector<size_t> order(set.files.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return set.files[a].path < set.files[b].path; });
    LabelledSet sorted = set;
    for (size_t i = 0; i < order.size(); ++i) {
        sorted.files[i] = set.files[order[i]];
        sorted.truth[i] = set.truth[order[i]];
    }
    set = std::move(sorted);
}

}  // namespace

ClassMatcher::ClassMatcher(const Model& model) : labels_(model.labels()) {
    class_count_ = shape_numel(model.outputs().at(0).shape);
    for (const std::string& label : labels_) {
        normalised_.push_back(normalise(label));
        first_synonym_.push_back(normalise(label.substr(0, label.find(','))));
    }
}

std::vector<int64_t> ClassMatcher::match(const std::string& name) const {
    const std::string norm = normalise(name);
    const auto find_all = [&](const std::vector<std::string>& table, const std::string& key) {
        std::vector<int64_t> found;
        for (size_t i = 0; i < table.size(); ++i) {
            if (table[i] == key) found.push_back(static_cast<int64_t>(i));
        }
        return found;
    };
    for (const auto& [table, key] : {std::pair{&labels_, name}, std::pair{&normalised_, norm},
                                     std::pair{&first_synonym_, norm}}) {
        if (key.empty()) continue;
        std::vector<int64_t> found = find_all(*table, key);
        if (!found.empty()) return found;
    }
    if (!name.empty() && name.size() <= 9 && std::all_of(name.begin(), name.end(), [](char c) {
            return c >= '0' && c <= '9';
        })) {
        const int64_t index = std::stoll(name);
        if (index < class_count_) return {index};
    }
    return {};
}

LabelledSet load_labelled_folder(const std::string& dir, const ClassMatcher& matcher, bool all_files) {
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) throw Error(ErrorCode::Io, dir + ": cannot list folder (" + ec.message() + ")");
    std::vector<fs::path> class_dirs;
    LabelledSet set;
    for (; it != fs::directory_iterator(); it.increment(ec)) {
        if (ec) throw Error(ErrorCode::Io, dir + ": cannot list folder (" + ec.message() + ")");
        const std::string name = it->path().filename().string();
        if (name.empty() || name[0] == '.') continue;
        std::error_code status_ec;
        if (it->is_directory(status_ec)) {
            class_dirs.push_back(it->path());
        } else {
            ++set.ignored_files;
        }
    }
    std::sort(class_dirs.begin(), class_dirs.end());
    std::set<std::string> names;
    for (const fs::path& p : class_dirs) names.insert(p.filename().string());
    check_names(names, matcher, dir, "class folder");
    for (const fs::path& p : class_dirs) {
        const int64_t truth = matcher.match(p.filename().string()).at(0);
        const FileList list = list_folder(p.string(), ListOptions{true, all_files});
        set.skipped_extension += list.skipped_extension;
        for (const InputFile& f : list.files) {
            set.files.push_back(f);
            set.truth.push_back(truth);
        }
    }
    set.class_folders = class_dirs.size();
    sort_by_path(set);
    return set;
}

LabelledSet load_labelled_csv(const std::string& csv_path, const std::string& base_dir, const ClassMatcher& matcher) {
    std::string text = io::read_regular(csv_path, io::kMaxCsvBytes, "label list");
    // An istream over the text in place (istringstream would copy up to kMaxCsvBytes again).
    struct TextBuffer : std::streambuf {
        explicit TextBuffer(std::string& t) { setg(t.data(), t.data(), t.data() + t.size()); }
    } buffer(text);
    std::istream in(&buffer);
    std::vector<std::pair<std::string, std::string>> rows;
    std::vector<std::string> fields;
    size_t line = 0;
    while (read_csv_record(in, fields, csv_path, line)) {
        if (fields.size() == 1 && fields[0].empty()) continue;  // blank line
        if (fields.size() != 2) {
            throw Error(ErrorCode::InvalidArgument, csv_path + ":" + std::to_string(line) + ": expected 2 fields "
                                                    "(file,label), got " + std::to_string(fields.size()));
        }
        if (rows.empty() && line == 1 && normalise(fields[0]) == "file" && normalise(fields[1]) == "label") continue;
        rows.emplace_back(fields[0], fields[1]);
    }
    if (in.bad()) throw Error(ErrorCode::Io, csv_path + ": read error");
    std::set<std::string> names;
    for (const auto& row : rows) names.insert(row.second);
    check_names(names, matcher, csv_path, "label");
    LabelledSet set;
    for (const auto& [file, label] : rows) {
        const fs::path p(file);
        set.files.push_back({p.is_absolute() || base_dir.empty() ? file : (fs::path(base_dir) / p).string(), ""});
        set.truth.push_back(matcher.match(label).at(0));
    }
    set.class_folders = names.size();
    sort_by_path(set);
    return set;
}

LabelledSet load_labelled_list(const std::vector<std::string>& paths, const std::string& list_name,
                               const ClassMatcher& matcher) {
    const auto class_of = [](const std::string& path) { return fs::path(path).parent_path().filename().string(); };
    std::set<std::string> names;
    for (const std::string& p : paths) names.insert(class_of(p));
    check_names(names, matcher, list_name, "folder name");
    LabelledSet set;
    for (const std::string& p : paths) {
        set.files.push_back({p, ""});
        set.truth.push_back(matcher.match(class_of(p)).at(0));
    }
    set.class_folders = names.size();
    sort_by_path(set);
    return set;
}

}  // namespace mnet::cli
