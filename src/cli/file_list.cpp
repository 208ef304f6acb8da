// SPDX-License-Identifier: Apache-2.0
#include "cli/file_list.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "mnet/error.h"

namespace fs = std::filesystem;

namespace mnet::cli {

namespace {

// The extensions OpenCV 4.6's imgcodecs decodes (its imread documentation), plus .jfif, a common JPEG name.
// GIF and AVIF are absent on purpose: OpenCV 4.6 cannot read them, so listing them would only add failures.
constexpr const char* kImageExtensions[] = {"jpg", "jpeg", "jpe", "jfif", "png",  "bmp", "dib", "webp",
                                            "tif", "tiff", "pbm", "pgm",  "ppm",  "pnm", "pxm", "pfm",
                                            "sr",  "ras",  "hdr", "pic",  "jp2",  "exr"};

bool is_hidden(const fs::path& p) {
    const std::string name = p.filename().string();
    return !name.empty() && name[0] == '.';
}

std::string reason(const std::error_code& ec) { return ec.message(); }

// Walks one folder argument; `root` as given, so paths in the output start with what the user typed.
void walk(const fs::path& root, const ListOptions& options, FileList& out) {
    std::vector<fs::path> pending{root};
    while (!pending.empty()) {
        const fs::path dir = pending.back();
        pending.pop_back();
        std::error_code ec;
        fs::directory_iterator it(dir, ec);
        if (ec) {
            out.files.push_back({dir.string(), dir.string() + ": cannot list folder (" + reason(ec) + ")"});
            continue;
        }
        for (; it != fs::directory_iterator(); it.increment(ec)) {
            if (ec) break;
            const fs::directory_entry& entry = *it;
            if (is_hidden(entry.path())) continue;
            std::error_code link_ec;
            const bool is_link = entry.is_symlink(link_ec);
            std::error_code status_ec;
            const fs::file_status status = entry.status(status_ec);
            if (fs::is_directory(status)) {
                // Links to folders are not entered: they can form cycles, and `find` does the same by default.
                if (is_link) continue;
                if (options.recursive) {
                    pending.push_back(entry.path());
                } else {
                    ++out.skipped_subfolders;
                }
                continue;
            }
            const std::string path = entry.path().string();
            const bool wanted = options.all_files || has_image_extension(path);
            if (status_ec && is_link) {
                if (wanted) out.files.push_back({path, path + ": cannot read image file (broken symbolic link)"});
                continue;
            }
            if (!fs::is_regular_file(status)) continue;  // sockets, pipes, devices
            if (!wanted) {
                if (out.skipped_extension++ == 0) out.skipped_example = path;
                continue;
            }
            out.files.push_back({path, ""});
        }
        if (ec) out.files.push_back({dir.string(), dir.string() + ": cannot list folder (" + reason(ec) + ")"});
    }
}

void sort_unique(std::vector<InputFile>& files) {
    // std::string compares as unsigned bytes (char_traits<char>::lt), so this is the byte-wise order.
    std::stable_sort(files.begin(), files.end(),
                     [](const InputFile& a, const InputFile& b) { return a.path < b.path; });
    files.erase(std::unique(files.begin(), files.end(),
                            [](const InputFile& a, const InputFile& b) { return a.path == b.path; }),
                files.end());
}

// A non-negative decimal integer, all of `text`; false for anything else (signs, spaces, overflow).
// Shard counts stay below 2^32 so shard_range's products fit in 64 bits; real arrays are far smaller.
constexpr size_t kMaxShards = 1'000'000'000;

bool parse_count(const std::string& text, size_t& value) {
    if (text.empty() || text.size() > 12) return false;
    size_t v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<size_t>(c - '0');
    }
    value = v;
    return true;
}

const char* env(const char* name) {
    const char* v = std::getenv(name);
    return (v && *v) ? v : nullptr;
}

size_t env_count(const char* name) {
    size_t v = 0;
    if (!parse_count(env(name), v)) {
        throw Error(ErrorCode::InvalidArgument,
                    std::string(name) + "='" + env(name) + "' is not a non-negative integer");
    }
    return v;
}

// A shard count from the environment: set means 1..kMaxShards (0 is a mistake, not "unset").
size_t env_shard_count(const char* name) {
    const size_t v = env_count(name);
    if (v == 0 || v > kMaxShards) {
        throw Error(ErrorCode::InvalidArgument, std::string(name) + "=" + std::to_string(v) +
                                                    ": the shard count must be in [1, " + std::to_string(kMaxShards) +
                                                    "]");
    }
    return v;
}

}  // namespace

bool has_image_extension(const std::string& path) {
    std::string ext = fs::path(path).extension().string();
    if (ext.size() < 2) return false;
    ext.erase(0, 1);
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    return std::any_of(std::begin(kImageExtensions), std::end(kImageExtensions),
                       [&](const char* known) { return ext == known; });
}

FileList list_files(const std::vector<std::string>& inputs, const ListOptions& options,
                    std::vector<std::string> listed) {
    FileList out;
    out.files.reserve(listed.size());
    for (std::string& path : listed) out.files.push_back({std::move(path), ""});
    for (const std::string& input : inputs) {
        std::error_code ec;
        const fs::file_status status = fs::status(input, ec);
        if (fs::is_directory(status)) {
            walk(input, options, out);
        } else if (fs::exists(status)) {
            out.files.push_back({input, ""});  // named explicitly: tried whatever its name
        } else {
            // A failed input like an image that does not decode: an error record in its place, status 1.
            out.files.push_back({input, input + ": no such file or folder"});
        }
    }
    sort_unique(out.files);
    return out;
}

FileList list_folder(const std::string& folder, const ListOptions& options) {
    FileList out;
    walk(folder, options, out);
    sort_unique(out.files);
    return out;
}

Shard parse_shard(const std::string& text) {
    const size_t slash = text.find('/');
    Shard s;
    s.source = "--shard";
    if (slash == std::string::npos || !parse_count(text.substr(0, slash), s.index) ||
        !parse_count(text.substr(slash + 1), s.count)) {
        throw Error(ErrorCode::InvalidArgument, "--shard " + text + ": expected K/N, e.g. --shard 0/4");
    }
    if (s.count == 0 || s.count > kMaxShards) {
        throw Error(ErrorCode::InvalidArgument, "--shard " + text + ": N must be in [1, " + std::to_string(kMaxShards) +
                                                    "], e.g. 3/4");
    }
    if (s.index >= s.count) {
        throw Error(ErrorCode::InvalidArgument, "--shard " + text + ": K must be in [0, N), e.g. 3/4");
    }
    return s;
}

Shard resolve_shard(const std::string& flag, long count_flag) {
    if (!flag.empty()) {
        if (count_flag > 0) throw Error(ErrorCode::InvalidArgument, "--shard-count cannot be combined with --shard");
        return parse_shard(flag);
    }
    size_t count = 0;
    std::string count_source;
    if (count_flag > 0) {
        count = static_cast<size_t>(count_flag);
        count_source = "--shard-count";
    } else if (env("MNET_SHARD_COUNT")) {
        count = env_shard_count("MNET_SHARD_COUNT");
        count_source = "MNET_SHARD_COUNT";
    }
    Shard s;
    if (env("SLURM_ARRAY_TASK_ID")) {
        const size_t id = env_count("SLURM_ARRAY_TASK_ID");
        // Arrays need not start at 0 (--array=1-10) nor step by 1 (--array=0-20:2): number tasks from 0.
        const size_t min = env("SLURM_ARRAY_TASK_MIN") ? env_count("SLURM_ARRAY_TASK_MIN") : 0;
        const size_t step = env("SLURM_ARRAY_TASK_STEP") ? std::max<size_t>(1, env_count("SLURM_ARRAY_TASK_STEP")) : 1;
        if (id < min || (id - min) % step != 0) {
            throw Error(ErrorCode::InvalidArgument, "SLURM_ARRAY_TASK_ID=" + std::to_string(id) +
                                                        " is not on the array's range (min " + std::to_string(min) +
                                                        ", step " + std::to_string(step) + ")");
        }
        s.index = (id - min) / step;
        s.source = "SLURM_ARRAY_TASK_ID";
        if (count == 0 && env("SLURM_ARRAY_TASK_COUNT")) {
            count = env_shard_count("SLURM_ARRAY_TASK_COUNT");
            count_source = "SLURM_ARRAY_TASK_COUNT";
        }
        if (count == 0) {
            throw Error(ErrorCode::InvalidArgument,
                        "SLURM_ARRAY_TASK_ID is set but not the shard count: set SLURM_ARRAY_TASK_COUNT or "
                        "MNET_SHARD_COUNT, or pass --shard K/N");
        }
    } else if (env("JOB_COMPLETION_INDEX")) {
        s.index = env_count("JOB_COMPLETION_INDEX");
        s.source = "JOB_COMPLETION_INDEX";
        if (count == 0) {
            throw Error(ErrorCode::InvalidArgument,
                        "JOB_COMPLETION_INDEX=" + std::to_string(s.index) +
                            " is set but not the shard count: pass --shard-count N (the Job's completions) or set "
                            "MNET_SHARD_COUNT, or pass --shard K/N");
        }
    } else {
        if (count > 0) {
            throw Error(ErrorCode::InvalidArgument, count_source + " is given but no shard index: pass --shard K/N, "
                                                    "or run under a Slurm array or a Kubernetes Indexed Job");
        }
        return s;  // 0/1: everything
    }
    if (count > kMaxShards) throw Error(ErrorCode::InvalidArgument, count_source + ": too many shards");
    s.count = count;
    s.source += "/" + count_source;
    if (s.index >= s.count) {
        throw Error(ErrorCode::InvalidArgument, "shard index " + std::to_string(s.index) + " (from " + s.source +
                                                    ") is not below the shard count " + std::to_string(s.count));
    }
    return s;
}

std::pair<size_t, size_t> shard_range(size_t total, const Shard& shard) {
    // floor(total * k / N) without overflow: (total % N) * k < N^2 <= kMaxShards^2 fits in 64 bits.
    const size_t n = shard.count;
    const auto bound = [&](size_t k) { return total / n * k + total % n * k / n; };
    return {bound(shard.index), bound(shard.index + 1)};
}

}  // namespace mnet::cli
