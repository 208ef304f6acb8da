// SPDX-License-Identifier: Apache-2.0
// mnet: MobileNet inference on the command line. The single place where errors become messages and exit codes.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "common/exit_codes.h"
#include "core/file_io.h"
#include "core/option_checks.h"
#include "mnet/engine.h"
#include "mnet/error.h"
#include "mnet/image.h"

int main(int argc, char** argv) {
    using namespace mnet::cli;
    // libpng and libjpeg print on stderr while decoding; their words belong in the image's one-line error.
    mnet::capture_decoder_messages();
    // A file size limit (ulimit -f) must be a write error (EFBIG) we report and clean up after, not SIGXFSZ
    // killing us with a temporary file left behind.
    std::signal(SIGXFSZ, SIG_IGN);
    CLI::App app{"mnet: fast MobileNet image classification on CPUs (oneDNN)\n\n"
                 "  mnet classify photo.jpg              top-5 labels with the default model\n"
                 "  mnet batch -r -o out.jsonl photos/   a whole folder, streaming\n"
                 "  mnet profile                         where every millisecond goes\n"
                 "  mnet info -m mobilenet_v1_0.75_192_quant\n",
                 "mnet"};
    app.set_version_flag("--version", "mnet " + mnet::mnet_version() + " (oneDNN " + mnet::onednn_version() + ")");
    app.require_subcommand(1);
    app.footer("Models: -m takes a .json manifest path or a model name from $MNET_MODEL_DIR (default: the "
               "project's models/ folder).\nExit status: 0 ok, 1 some inputs failed, 2 usage, 3 I/O error, "
               "4 bad or unsupported model, 5 backend or internal error.");
    int status = kExitOk;
    setup_classify(app, status);
    setup_batch(app, status);
    setup_eval(app, status);
    setup_profile(app, status);
    setup_bench(app, status);
    setup_info(app, status);
    setup_quantize(app, status);
    setup_merge(app, status);
    mnet::refuse_empty_values(app);
    try {
        app.parse(argc, argv);
        // classify, eval, info, profile and bench print with stdio, where a full disk shows only at a flush:
        // check it before reporting success.
        flush_stdout();
    } catch (const CLI::ParseError& e) {
        // --help and --version end parsing with status 0; every real parse error is a usage error.
        return app.exit(e) == 0 ? kExitOk : kExitUsage;
    } catch (const mnet::Error& e) {
        std::fprintf(stderr, "mnet: error: %s\n", mnet::io::printable(e.what()).c_str());
        return exit_code_for(e.code());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mnet: internal error: %s\n", mnet::io::printable(e.what()).c_str());
        return kExitBackend;
    }
    return status;
}
