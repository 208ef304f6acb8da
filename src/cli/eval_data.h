// SPDX-License-Identifier: Apache-2.0
// The labelled images `mnet eval` scores: a folder of class subfolders or a CSV of file,label, with class names
// matched against the model's labels.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/file_list.h"
#include "mnet/model.h"

namespace mnet::cli {

// Maps a class name (a folder name or a CSV label) to the model's class index. Rules, first that matches wins:
// 1. the exact label; 2. the label ignoring ASCII case, with '_' read as ' ' ("egyptian_cat");
// 3. the label's first comma-separated synonym, same normalisation ("tabby" for "tabby, tabby cat");
// 4. a decimal class index below the number of classes ("286").
// A name two labels share ("crane" names 134 and 517 in ImageNet) is ambiguous: match() returns both.
class ClassMatcher {
public:
    explicit ClassMatcher(const Model& model);
    std::vector<int64_t> match(const std::string& name) const;  // empty when nothing matches
    int64_t class_count() const { return class_count_; }

private:
    std::vector<std::string> labels_;
    std::vector<std::string> normalised_;
    std::vector<std::string> first_synonym_;
    int64_t class_count_ = 0;
};

struct LabelledSet {
    std::vector<InputFile> files;  // sorted byte-wise by path
    std::vector<int64_t> truth;    // the class index of files[i]
    size_t class_folders = 0;      // folders (or distinct CSV labels) read
    size_t ignored_files = 0;      // files directly in the folder, outside every class folder
    size_t skipped_extension = 0;  // files in class folders skipped for a non-image extension
};

// DIR/<class name>/...: every image below each class folder (recursively; hidden names skipped).
// Throws Error(InvalidArgument) listing every folder name that matches no class or several, Error(Io) when
// `dir` cannot be listed.
LabelledSet load_labelled_folder(const std::string& dir, const ClassMatcher& matcher, bool all_files);

// A CSV of file,label records (an optional first row "file,label" is skipped); relative file names are taken
// relative to `base_dir`. Throws Error(Io) if it cannot be read, Error(InvalidArgument) naming the line of a
// malformed record and listing every label that matches no class or several.
LabelledSet load_labelled_csv(const std::string& csv_path, const std::string& base_dir, const ClassMatcher& matcher);

// A list of image paths (--files-from), each labelled by the name of the folder it is in: the layout of a
// labelled folder, e.g. a sample of one (find val -name '*.JPEG' | shuf -n 1000). Throws Error(InvalidArgument)
// listing every folder name that matches no class or several.
LabelledSet load_labelled_list(const std::vector<std::string>& paths, const std::string& list_name,
                               const ClassMatcher& matcher);

}  // namespace mnet::cli
