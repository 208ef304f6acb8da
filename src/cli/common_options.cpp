// SPDX-License-Identifier: Apache-2.0
#include "cli/common_options.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>

#include "common/exit_codes.h"
#include "cli/output.h"
#include "common/usage.h"
#include "mnet/error.h"
#include "mnet/image.h"

namespace fs = std::filesystem;

namespace mnet::cli {

const char* const kModelHelp =
    "Models: -m takes a model name (looked up in $MNET_MODEL_DIR if set, else in "
    "${XDG_DATA_HOME:-~/.local/share}/mnet/models, then beside the executable: ../models, ../share/mnet/models), "
    "an mnet manifest .json, or a source model (.tflite, .h5, .keras, .onnx, a TF.js model.json or its folder), converted "
    "on first use into ${XDG_CACHE_HOME:-~/.cache}/mnet/converted and reused after. 'mnet models' lists them.";

CLI::Option* add_model_option(CLI::App* sub, ModelFlags& model) {
    const std::string group = "Converting a source model given to -m (as mnet-convert)";
    sub->add_option("--labels", model.labels, "Label file, one class name per line")->option_text("FILE")->group(group);
    sub->add_option("--mean", model.mean, "Pixel mean, one value or R,G,B")->option_text("X|R,G,B")->group(group);
    sub->add_option("--std", model.std, "Pixel std, one value or R,G,B")->option_text("X|R,G,B")->group(group);
    sub->add_option("--crop", model.crop, "Central crop fraction in (0, 1]")->option_text("X")->group(group);
    sub->add_option("--background-class", model.background, "Whether label 0 is TF-slim's 'background'")
        ->option_text("auto|yes|no")
        ->check(one_of({"auto", "yes", "no"}))
        ->group(group);
    return sub->add_option("-m,--model", model.name,
                           "A model name (see 'mnet models'), a manifest .json, or a source model (.tflite, .h5, "
                           ".keras, TF.js model.json) converted once and cached. Default: " +
                               std::string(kDefaultModelName))
        ->option_text("NAME|FILE");
}

CLI::Option* add_threads_option(CLI::App* sub, int& threads) {
    return sub->add_option("-t,--threads", threads, "Compute threads (e.g. -t 2); 0 = all cores, or one for a small model that measured faster on one")
        ->check(whole_number(0, 1024));
}

CLI::Option* add_max_pixels_option(CLI::App* sub, int64_t& max_pixels) {
    max_pixels = kDefaultMaxImagePixels;
    return sub->add_option("--max-pixels", max_pixels,
                           "Refuse images larger than N pixels (width x height, read from the file header before "
                           "decoding, so a decompression bomb costs nothing). In batch and eval it also caps the pixels the "
                           "workers decode at once (at most 100 M; docs/batch.md). Default " +
                               std::to_string(kDefaultMaxImagePixels) + ", e.g. --max-pixels 25000000")
        ->check(whole_number(1, std::numeric_limits<long long>::max()));
}

CLI::Option* add_precision_option(CLI::App* sub, std::string& precision) {
    return sub->add_option("--precision", precision,
                           "Arithmetic: int8 (integer kernels, the model's own quantization parameters), fp32, or "
                           "bf16 (bfloat16 convolutions, on CPUs with AVX512_BF16 or AMX; docs/performance.md). "
                           "Default: int8 for a quantized model, fp32 otherwise, e.g. --precision fp32")
        ->option_text("int8|fp32|bf16")
        ->check(one_of({"int8", "fp32", "bf16"}));
}

Precision resolve_precision(const std::string& flag, const Model& model) {
    if (flag == "fp32") return Precision::Fp32;
    if (flag == "bf16") return Precision::Bf16;  // the Session refuses it on a CPU without bf16
    if (flag.empty()) return effective_precision(model, Precision::Auto);
    if (!model.has_quantization()) {
        throw Error(ErrorCode::Unsupported, "--precision int8: " + model.path() +
                                                " has no quantization parameters (mnet quantize makes a quantized copy)");
    }
    return Precision::Int8;
}

const char* precision_name(Precision precision) {
    switch (precision) {
        case Precision::Int8: return "int8";
        case Precision::Bf16: return "bf16";
        case Precision::Auto:
        case Precision::Fp32: break;
    }
    return "fp32";
}

std::shared_ptr<const Model> load_model(const ModelFlags& flags) { return Model::load(resolve_model(flags)); }

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
    if (reason == EPIPE) throw OutputClosed{};
    throw Error(ErrorCode::Io, stdout_name() + ": cannot write (" +
                                   (reason != 0 ? std::strerror(reason) : "an earlier write failed") + ")");
}

bool is_stdout(const std::string& path) { return path.empty() || path == "-"; }

}  // namespace mnet::cli
