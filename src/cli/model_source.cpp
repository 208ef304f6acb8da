// SPDX-License-Identifier: Apache-2.0
#include "cli/model_source.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "cli/common_options.h"
#include "cli/convert_child.h"
#include "cli/file_list.h"
#include "cli/sha256.h"
#include "core/file_io.h"
#include "common/usage.h"
#include "mnet/engine.h"
#include "mnet/error.h"

namespace fs = std::filesystem;

namespace mnet::cli {

namespace {

constexpr std::uintmax_t kMaxZooBytes = 1 << 20;
constexpr size_t kSniffBytes = 1 << 16;

// Source formats `-m` converts by extension (a TF.js model.json is told apart from a manifest by its content).
// Another importer adds its line here.
struct SourceFormat {
    const char* extension;
    const char* what;
};
constexpr SourceFormat kSourceFormats[] = {
    {".tflite", "TensorFlow Lite"},
    {".h5", "Keras HDF5"},
    {".keras", "Keras"},
    {".onnx", "ONNX"},
};

std::string in_quotes(const std::string& s) { return "'" + s + "'"; }

fs::path under_home(const char* variable, const char* fallback) {
    const char* value = std::getenv(variable);
    if (value && value[0] == '/') return value;  // the XDG spec ignores relative values
    const char* home = std::getenv("HOME");
    return (home && *home) ? fs::path(home) / fallback : fs::path();
}

std::vector<fs::path> exe_model_dirs() {
    const fs::path exe = exe_dir();
    return {(exe / ".." / "models").lexically_normal(), (exe / ".." / "share" / "mnet" / "models").lexically_normal()};
}

std::string installed_manifest(const fs::path& dir, const std::string& name) {
    std::error_code ec;
    for (const fs::path& candidate : {dir / name / (name + ".json"), dir / (name + ".json")}) {
        if (fs::is_regular_file(candidate, ec)) return candidate.string();
    }
    return "";
}

// models/zoo.json: in a model folder, else beside the executable (the source tree's, an installed prefix's).
nlohmann::json read_zoo() {
    std::vector<fs::path> dirs = model_dirs();
    for (const fs::path& d : exe_model_dirs()) dirs.push_back(d);
    for (const fs::path& dir : dirs) {
        std::error_code ec;
        const fs::path path = dir / "zoo.json";
        if (!fs::is_regular_file(path, ec) || fs::file_size(path, ec) > kMaxZooBytes) continue;
        io::remember_input(path.string());  // no output of this command may replace it
        std::ifstream in(path);
        nlohmann::json zoo = nlohmann::json::parse(in, nullptr, false);
        if (zoo.is_object() && zoo.contains("models") && zoo["models"].is_array()) return zoo;
    }
    return nlohmann::json::object();
}

std::string lowercase_extension(const fs::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return ext;
}

// A TF.js layers model.json (its topology and weight manifest), rather than an mnet manifest.
bool is_tfjs_model_json(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::string head(kSniffBytes, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<size_t>(in.gcount()));
    return head.find("\"modelTopology\"") != std::string::npos && head.find("\"mnet-model\"") == std::string::npos;
}

void hash_file(Sha256& h, const fs::path& file) {
    io::remember_input(file.string());  // a source model and its labels are inputs of the command
    std::ifstream in(file, std::ios::binary);
    if (!in) throw Error(ErrorCode::Io, file.string() + ": cannot read");
    std::vector<char> buf(1 << 16);
    while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0) {
        h.update(buf.data(), static_cast<size_t>(in.gcount()));
    }
    h.update("\0", 1);
}

// The cache key: the source's bytes (a TF.js model's every file beside model.json too), the conversion flags,
// the labels file's bytes and this build's version (a newer converter may convert differently).
std::string cache_key(const fs::path& source, bool tfjs, const ModelFlags& flags) {
    Sha256 h;
    if (tfjs) {
        std::vector<fs::path> files;
        for (const auto& entry : fs::directory_iterator(source.parent_path().empty() ? "." : source.parent_path())) {
            if (entry.is_regular_file()) files.push_back(entry.path());
        }
        std::sort(files.begin(), files.end());
        for (const fs::path& f : files) {
            h.update(f.filename().string().data(), f.filename().string().size() + 1);
            hash_file(h, f);
        }
    } else {
        hash_file(h, source);
    }
    const std::string options = "mean=" + flags.mean + "\nstd=" + flags.std + "\ncrop=" + flags.crop +
                                "\nbackground=" + flags.background + "\nversion=" + mnet_version() + "\n";
    h.update(options.data(), options.size());
    if (!flags.labels.empty()) hash_file(h, flags.labels);
    return h.hex();
}

fs::path cache_root() {
    const fs::path base = under_home("XDG_CACHE_HOME", ".cache");
    if (base.empty()) throw Error(ErrorCode::Io, "no cache folder for converted models: set XDG_CACHE_HOME or HOME");
    return base / "mnet" / "converted";
}

// The cached conversion of `source` (a file, or a TF.js model.json), made now if missing: converted into a
// temporary folder and renamed into place, so a cache entry is always complete.
std::string converted(const fs::path& source, bool tfjs, const ModelFlags& flags) {
    const std::string key = cache_key(source, tfjs, flags);
    const fs::path root = cache_root();
    const fs::path dir = root / key;
    const std::string stem = tfjs ? source.parent_path().filename().string() : source.stem().string();
    const fs::path manifest = dir / ((stem.empty() ? std::string("model") : stem) + ".json");
    std::error_code ec;
    if (fs::is_regular_file(manifest, ec)) return manifest.string();

    fs::create_directories(root, ec);
    if (ec) throw Error(ErrorCode::Io, root.string() + ": cannot create the conversion cache (" + ec.message() + ")");
    const fs::path tmp = root / (key + ".part-" + std::to_string(getpid()));
    fs::remove_all(tmp, ec);
    fs::create_directory(tmp, ec);
    std::vector<std::string> args = {source.string(), "-o", (tmp / manifest.filename()).string()};
    for (const auto& [flag, value] :
         std::vector<std::pair<const char*, std::string>>{{"--labels", flags.labels},
                                                          {"--mean", flags.mean},
                                                          {"--std", flags.std},
                                                          {"--crop", flags.crop},
                                                          {"--background-class", flags.background}}) {
        if (!value.empty()) args.insert(args.end(), {flag, value});
    }
    std::fprintf(stderr, "mnet: converting %s on first use (cached in %s)\n", source.string().c_str(),
                 dir.string().c_str());
    try {
        run_converter(source.string(), args);
    } catch (...) {
        fs::remove_all(tmp, ec);
        throw;
    }
    fs::rename(tmp, dir, ec);
    if (ec) fs::remove_all(tmp, ec);  // another process put the same conversion in place first
    if (!fs::is_regular_file(manifest, ec))
        throw Error(ErrorCode::Io, manifest.string() + ": not in the cache after converting");
    return manifest.string();
}

std::string by_name(const std::string& name) {
    for (const fs::path& dir : model_dirs()) {
        const std::string manifest = installed_manifest(dir, name);
        if (!manifest.empty()) return manifest;
    }
    std::vector<std::string> names;
    for (const KnownModel& k : known_models()) {
        if (k.name == name)
            throw Error(ErrorCode::Io, "model " + in_quotes(name) + " is not fetched yet: run " + fetch_command(name));
        names.push_back(k.name);
    }
    std::string where;
    for (const fs::path& dir : model_dirs()) where += (where.empty() ? "" : ", ") + dir.string();
    throw Error(ErrorCode::Io, "model " + in_quotes(name) + " not found in " + where + did_you_mean(name, names) +
                                   " ('mnet models' lists them)");
}

std::string by_path(const fs::path& path, const ModelFlags& flags) {
    std::error_code ec;
    const fs::file_status status = fs::status(path, ec);
    const std::string what = "-m " + path.string() + ": ";
    const std::string expected =
        "-m takes a model name, an mnet manifest .json, or a source model (.tflite, .h5, "
        ".keras, .onnx, a TF.js model.json or its folder)";
    if (fs::is_directory(status)) {
        if (fs::is_regular_file(path / "model.json", ec) && is_tfjs_model_json(path / "model.json")) {
            return converted(path / "model.json", true, flags);
        }
        const fs::path normal = path.lexically_normal();
        const std::string name = (normal.has_filename() ? normal : normal.parent_path()).filename().string();
        const std::string manifest = installed_manifest(normal.parent_path(), name);
        if (!manifest.empty()) return manifest;
        throw Error(ErrorCode::InvalidArgument, what + "a folder without a model in it; " + expected);
    }
    if (!fs::exists(status)) throw Error(ErrorCode::Io, what + "no such file or folder");
    if (!fs::is_regular_file(status)) {
        const char* kind = fs::is_fifo(status)             ? "is a FIFO"
                           : fs::is_character_file(status) ? "is a character device"
                           : fs::is_block_file(status)     ? "is a block device"
                           : fs::is_socket(status)         ? "is a socket"
                                                           : "is";
        throw Error(ErrorCode::Io, what + kind + ", not a regular file");
    }
    const std::string ext = lowercase_extension(path);
    if (ext == ".json") return is_tfjs_model_json(path) ? converted(path, true, flags) : path.string();
    for (const SourceFormat& f : kSourceFormats) {
        if (ext == f.extension) return converted(path, false, flags);
    }
    const std::string kind = has_image_extension(path.string()) ? "an image, not a model" : "not a model";
    throw Error(ErrorCode::InvalidArgument, what + kind + "; " + expected);
}

}  // namespace

fs::path exe_dir() {
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::current_path(ec) : exe.parent_path();
}

std::vector<fs::path> model_dirs() {
    const char* env = std::getenv("MNET_MODEL_DIR");
    if (env && *env) return {env};
    std::vector<fs::path> dirs;
    const fs::path data = under_home("XDG_DATA_HOME", ".local/share");
    if (!data.empty()) dirs.push_back(data / "mnet" / "models");
    for (const fs::path& d : exe_model_dirs()) dirs.push_back(d);
    return dirs;
}

std::vector<KnownModel> known_models() {
    std::map<std::string, KnownModel> known;
    for (const fs::path& dir : model_dirs()) {
        std::error_code ec;
        for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
            const std::string name = it->path().has_extension() && it->path().extension() == ".json"
                                         ? it->path().stem().string()
                                         : it->path().filename().string();
            if (name == "zoo" || known.count(name)) continue;
            const std::string manifest = installed_manifest(dir, name);
            if (!manifest.empty()) known[name] = {name, "", manifest};
        }
    }
    const nlohmann::json zoo = read_zoo();
    for (const auto& entry : zoo.value("models", nlohmann::json::array())) {
        if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string()) continue;
        KnownModel& k = known[entry["name"].get<std::string>()];
        k.name = entry["name"].get<std::string>();
        if (entry.contains("description") && entry["description"].is_string()) k.description = entry["description"];
    }
    std::vector<KnownModel> out;
    for (auto& [name, k] : known) out.push_back(std::move(k));
    return out;
}

std::string fetch_command(const std::string& name) {
    std::error_code ec;
    const fs::path script = (exe_dir() / ".." / "scripts" / "fetch_models.sh").lexically_normal();
    if (!fs::is_regular_file(script, ec)) return "scripts/fetch_models.sh " + name + " (in the mnet sources)";
    const fs::path relative = fs::relative(script, fs::current_path(ec), ec);
    const bool below = !ec && !relative.empty() && *relative.begin() != "..";
    return (below ? relative : script).string() + " " + name;
}

std::string resolve_model(const ModelFlags& flags) {
    const std::string arg = flags.name.empty() ? kDefaultModelName : flags.name;
    std::error_code ec;
    const std::string ext = lowercase_extension(arg);
    bool is_path = arg.find('/') != std::string::npos || fs::exists(fs::status(arg, ec)) || ext == ".json" ||
                   has_image_extension(arg);
    for (const SourceFormat& f : kSourceFormats) is_path = is_path || ext == f.extension;
    return is_path ? by_path(arg, flags) : by_name(arg);
}

}  // namespace mnet::cli
