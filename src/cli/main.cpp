// SPDX-License-Identifier: Apache-2.0
// mnet: MobileNet inference on the command line. The single place where errors become messages and exit codes.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "cli/output.h"
#include "common/exit_codes.h"
#include "common/usage.h"
#include "core/file_io.h"
#include "core/option_checks.h"
#include "mnet/engine.h"
#include "mnet/error.h"
#include "mnet/image.h"

namespace {

int report(const char* what, const std::string& message, int status) {
    std::fprintf(stderr, "mnet: %s: %s\n", what, mnet::io::printable(message).c_str());
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace mnet::cli;
    // libpng and libjpeg print on stderr while decoding; their words belong in the image's one-line error.
    mnet::capture_decoder_messages();
    // A closed standard output must be an error we see (EPIPE), ending the run quietly (OutputClosed), not a death
    // by SIGPIPE; likewise a file size limit (ulimit -f) must be a write error (EFBIG) we report and clean up
    // after, not SIGXFSZ killing us with half a line or a temporary file left behind.
    std::signal(SIGPIPE, SIG_IGN);
    std::signal(SIGXFSZ, SIG_IGN);
    // One command is one operation: every file it reads (model, labels, lists) is refused as one of its outputs.
    mnet::io::InputScope inputs;
    CLI::App app{"mnet: fast MobileNet image classification on CPUs (oneDNN)\n\n"
                 "  mnet classify samples/dog.jpg          top-5 labels with the default model\n"
                 "  mnet batch -r -o out.jsonl samples/    a whole folder, streaming\n"
                 "  mnet profile                           where every millisecond goes\n"
                 "  mnet info --json -o info.json          what the model holds\n"
                 "  mnet models                            the models installed here and those to fetch\n",
                 "mnet"};
    app.formatter(make_help_formatter());
    app.set_version_flag("--version", "mnet " + mnet::mnet_version() + " (oneDNN " + mnet::onednn_version() + ")");
    app.require_subcommand(1);
    int status = kExitOk;
    setup_classify(app, status);
    setup_batch(app, status);
    setup_eval(app, status);
    setup_profile(app, status);
    setup_bench(app, status);
    setup_info(app, status);
    setup_quantize(app, status);
    setup_models(app, status);
    setup_merge(app, status);
    mnet::refuse_empty_values(app);
    app.footer(std::string(kModelHelp) + "\n\n" + kOutputHelp + "\n\n" + kExitStatusHelp);
    for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) sub->footer(kExitStatusHelp);
    try {
        const int parsed = parse_args(app, normalize_args(app, argc, argv));
        if (parsed >= 0) return parsed == 0 ? kExitOk : kExitUsage;
        // classify, eval, info, profile and bench print with stdio, where a full disk shows only at a flush:
        // check it before reporting success.
        flush_stdout();
    } catch (const OutputClosed&) {
        return kExitOk;
    } catch (const InputImageError& e) {
        return report("error", e.what(), kExitSomeInputsFailed);
    } catch (const mnet::Error& e) {
        return report("error", e.what(), exit_code_for(e.code()));
    } catch (const std::exception& e) {
        return report("error", std::string("internal: ") + e.what(), kExitBackend);
    }
    return status;
}
