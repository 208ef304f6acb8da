// SPDX-License-Identifier: Apache-2.0
#include "cli/common_options.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>

#include "mnet/error.h"
#include "mnet/image.h"

namespace fs = std::filesystem;

namespace mnet::cli {

std::string model_dir() {
    const char* env = std::getenv("MNET_MODEL_DIR");
    return (env && *env) ? env : MNET_DEFAULT_MODEL_DIR;
}

CLI::Option* add_model_option(CLI::App* sub, std::string& model) {
    return sub->add_option("-m,--model", model,
                           "Model: a manifest .json path, or a name in the model folder ($MNET_MODEL_DIR, default "
                           "models/), e.g. -m mobilenet_v1_0.75_192_quant. Default: " +
                               std::string(kDefaultModelName));
}

CLI::Option* add_threads_option(CLI::App* sub, int& threads) {
    return sub->add_option("-t,--threads", threads, "Compute threads, 0 = all cores (e.g. -t 2)")
        ->check(CLI::Range(0, 1024));
}

CLI::Option* add_max_pixels_option(CLI::App* sub, int64_t& max_pixels) {
    max_pixels = kDefaultMaxImagePixels;
    return sub->add_option("--max-pixels", max_pixels,
                           "Refuse images larger than N pixels (width x height, read from the file header before "
                           "decoding, so a decompression bomb costs nothing). Default " +
                               std::to_string(kDefaultMaxImagePixels) + ", e.g. --max-pixels 25000000")
        ->check(CLI::Range(int64_t{1}, std::numeric_limits<int64_t>::max()));
}

CLI::Option* add_precision_option(CLI::App* sub, std::string& precision) {
    return sub->add_option("--precision", precision,
                           "Arithmetic: int8 (integer kernels, the model's own quantization parameters) or fp32. "
                           "Default: int8 for a quantized model, fp32 otherwise, e.g. --precision fp32")
        ->check(CLI::IsMember({"int8", "fp32"}));
}

Precision resolve_precision(const std::string& flag, const Model& model) {
    if (flag == "fp32") return Precision::Fp32;
    if (flag.empty()) return effective_precision(model, Precision::Auto);
    if (!model.has_quantization()) {
        throw Error(ErrorCode::Unsupported, "--precision int8: " + model.path() +
                                                " has no quantization parameters (mnet quantize makes a quantized copy)");
    }
    return Precision::Int8;
}

const char* precision_name(Precision precision) { return precision == Precision::Int8 ? "int8" : "fp32"; }

std::string resolve_model_path(const std::string& name_or_path) {
    const std::string name = name_or_path.empty() ? kDefaultModelName : name_or_path;
    std::error_code ec;
    // Anything that exists goes to the loader, which says what is wrong with a folder, FIFO or device.
    if (fs::exists(fs::symlink_status(name, ec))) return name;
    if (name.find('/') == std::string::npos && name.find(".json") == std::string::npos) {
        const fs::path dir(model_dir());
        for (const fs::path& candidate : {dir / name / (name + ".json"), dir / (name + ".json")}) {
            if (fs::is_regular_file(candidate, ec)) return candidate.string();
        }
        std::string hint = name_or_path.empty() ? " (the default model; run scripts/fetch_models.sh)" : "";
        throw Error(ErrorCode::Io, "model '" + name + "' not found in " + dir.string() + hint);
    }
    throw Error(ErrorCode::Io, name + ": no such model file");
}

std::shared_ptr<const Model> load_model(const std::string& name_or_path) {
    return Model::load(resolve_model_path(name_or_path));
}

void flush_stdout() {
    const int earlier = errno;
    errno = 0;
    const bool flushed = std::fflush(stdout) == 0;
    const int err = errno;
    if (flushed && !std::ferror(stdout)) {
        errno = earlier;
        return;
    }
    // glibc drops the buffer when a write fails inside printf, so this flush can succeed with the error flag
    // set; the reason is then what that write left in errno, if it is a write error at all.
    int reason = flushed ? 0 : err;
    for (int write_error : {ENOSPC, EFBIG, EDQUOT, EIO, EPIPE}) {
        if (reason == 0 && earlier == write_error) reason = earlier;
    }
    throw Error(ErrorCode::Io, std::string("standard output: cannot write (") +
                                   (reason != 0 ? std::strerror(reason) : "an earlier write failed") + ")");
}

bool is_stdout(const std::string& path) { return path.empty() || path == "-"; }

}  // namespace mnet::cli
