// SPDX-License-Identifier: Apache-2.0
// Every command shown in a ```sh block of README.md and docs/*.md runs (issue 20), so the docs cannot drift from
// the command line. The commands run in document order, in a sandbox that is the state right after the README's
// first command (the default model fetched, samples/dog.jpg), plus the example files the docs name, built from
// the shared photos and models. Only the commands listed in kSkipped do not run, each with its reason.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <regex>

#include "support/test_data.h"
#include "test_batch_support.h"

namespace fs = std::filesystem;

namespace mnet::test {

namespace {

// Commands that are not run here, by a regular expression over the command, and why.
const std::pair<const char*, const char*> kSkipped[] = {
    {R"(^scripts/(setup|test|install_deps|test_sanitizers|build)\.sh)",
     "installs packages or builds and tests the whole tree"},
    {R"(^(cmake|ctest|CC=clang) )", "builds the tree (the test runs inside that build)"},
    {R"(^(tools/fuzz\.sh|build-fuzz/))", "a fuzzing build and minutes of fuzzing"},
    {R"(^(tools/peers/run\.sh|node ))", "peer runtimes (LiteRT, ONNX Runtime) from PyPI/npm: network"},
    {R"(/data/images)", "a cluster's image volume"},
    {R"(\b(sbatch|srun|kubectl)\b)", "needs a Slurm or Kubernetes cluster"},
    {R"(^scripts/fetch_models\.sh all)", "fetches and converts every zoo model (several minutes here)"},
    {R"(mobilenet_v3_large\.onnx)", "a user's own ONNX export (test_onnx converts the ONNX fixtures)"},
    {R"(^c\+\+ .*examples/classify\.cpp)", "needs an installed prefix P (scripts/test_install.sh builds it)"},
    {R"(venv-(onnx|zoo)|tools/(zoo|onnx_zoo)/|tests/data/zoo)",
     "fixture generation: PyPI packages (TensorFlow, torch) and minutes of conversion"},
};

struct Command {
    std::string file;
    int line = 0;
    std::string text;
};

// The commands of the ```sh blocks of `path`: one per line, a line ending in '\' joined with the next.
std::vector<Command> sh_commands(const std::string& path, const std::string& name) {
    std::ifstream in(path);
    std::vector<Command> out;
    std::string line, pending;
    bool in_block = false;
    for (int n = 1; std::getline(in, line); ++n) {
        if (line.rfind("```", 0) == 0) {
            in_block = !in_block && line == "```sh";
            continue;
        }
        if (!in_block) continue;
        if (!line.empty() && line.back() == '\\') {
            pending += line.substr(0, line.size() - 1);
            continue;
        }
        const std::string text = pending + line;
        pending.clear();
        if (text.find_first_not_of(' ') == std::string::npos || text[text.find_first_not_of(' ')] == '#') continue;
        out.push_back({name, n, text});
    }
    return out;
}

const char* skip_reason(const std::string& command) {
    for (const auto& [pattern, reason] : kSkipped) {
        if (std::regex_search(command, std::regex(pattern))) return reason;
    }
    return nullptr;
}

// Timing commands keep their flags but run 2 times (`-n 2`) instead of hundreds: the point is that they parse
// and run, not their numbers.
std::string shortened(std::string command) {
    if (command.find(" bench") == std::string::npos && command.find(" profile") == std::string::npos) return command;
    command = std::regex_replace(command, std::regex(R"( -n [0-9]+)"), " -n 2");
    const size_t end = command.find_first_of("|>#");
    const std::string tail = end == std::string::npos ? "" : " " + command.substr(end);
    command = command.substr(0, end);
    if (command.find(" -n ") == std::string::npos) command += " -n 2";
    return command + " --warmup 0" + tail;
}

// The sandbox: a folder with build/ and scripts/ linked to this tree's, the README's first command's state, and
// the files the docs' examples name.
std::string make_sandbox(const std::string& root) {
    const std::string shared = shared_dir();
    const std::string box = root + "/repo";
    const std::string images = shared + "/testdata/images";
    const std::string v1 = shared + "/models/mobilenet_v1_0.75_192_quant";
    const std::string keras = shared + "/models/mobilenet_v1_0.25_224_keras";
    const std::string setup =
        "set -e; mkdir -p " + quote(box) + "/models; cd " + quote(box) + "; ln -s " +
        quote(std::string(MNET_BINARY_DIR)) + " build; ln -s " + quote(std::string(MNET_SOURCE_DIR) + "/scripts") +
        " scripts; ln -s " + quote(shared) + " ../shared; cp " +
        quote(std::string(MNET_SOURCE_DIR) + "/models/zoo.json") + " models/; export MNET_MIRROR=" + quote(shared) +
        "; scripts/fetch_models.sh mobilenet_v2_1.0_224_quant; "
        "scripts/fetch_sample.sh; "
        // files the examples name
        "mkdir -p photos more images val/malamute 'val/Egyptian cat'; cp " +
        quote(images) + "/* photos/; cp " + quote(images) + "/dog.jpg photo.jpg; cp " + quote(images) +
        "/dog.jpg photo1.jpg; cp " + quote(images) + "/chelsea.png photo2.png; cp " + quote(images) +
        "/chelsea.png cat.png; cp " + quote(images) + "/dog.jpg a.jpg; cp " + quote(images) +
        "/chelsea.png b.png; cp " + quote(images) + "/kite.jpg more/; cp " + quote(images) +
        "/dog.jpg val/malamute/; cp " + quote(images) + "/chelsea.png 'val/Egyptian cat'/; cp " + quote(images) +
        "/* images/; printf 'file,label\\ndog.jpg,malamute\\nchelsea.png,Egyptian cat\\n' > "
        "val_labels.csv; cp " +
        quote(v1) + "/mobilenet_v1_0.75_192_quant.tflite model.tflite; cp " + quote(v1) +
        "/imagenet_labels.txt labels.txt; cp " + quote(keras) + "/mobilenet_v1_0.25_224.h5 " + quote(keras) +
        "/imagenet_labels_1000.txt .; build/mnet-convert mobilenet_v1_0.25_224.h5 -o float.json --labels "
        "imagenet_labels_1000.txt; cp float.json model.json; "
        // a list as `find ... > list.txt` makes, and a sharded run's parts for `mnet merge`
        "find photos -name '*.jpg' > list.txt; mkdir out; for k in 0 1; do MNET_MODEL_DIR=models build/mnet batch -q "
        "--shard $k/2 --files-from list.txt -o out/part-$k.jsonl; done";
    const RunResult r = run_shell("bash -c " + quote(setup) + " 2>&1");
    INFO(r.out);
    REQUIRE(r.status == 0);
    return box;
}

// The examples of `mnet --help` and of every subcommand's help: the lines that start with "mnet " (after
// "e.g."), up to the two spaces before their explanation.
std::vector<Command> help_examples() {
    std::vector<Command> out;
    for (const char* sub : {"", "classify", "batch", "eval", "profile", "bench", "info", "quantize", "models"}) {
        const RunResult help = run_shell(mnet() + " " + sub + " --help");
        for (const std::string& line : lines_of(help.out)) {
            std::smatch m;
            if (!std::regex_match(line, m, std::regex(R"(^\s+(e\.g\.\s+)?(mnet .*)$)"))) continue;
            const std::string example = m[2].str();
            out.push_back({std::string("mnet ") + sub + " --help", 0, "build/" + example.substr(0, example.find("  "))});
        }
    }
    return out;
}

}  // namespace

TEST_CASE("every sh command in README.md and docs/*.md and every help example runs", "[cli][docs][slow]") {
    const std::string root = make_temp_dir("docs");
    const std::string box = make_sandbox(root);
    std::vector<Command> commands = sh_commands(std::string(MNET_SOURCE_DIR) + "/README.md", "README.md");
    std::vector<fs::path> docs;
    for (const auto& e : fs::directory_iterator(std::string(MNET_SOURCE_DIR) + "/docs")) {
        if (e.path().extension() == ".md") docs.push_back(e.path());
    }
    std::sort(docs.begin(), docs.end());
    for (const fs::path& d : docs) {
        for (Command& c : sh_commands(d.string(), "docs/" + d.filename().string())) commands.push_back(c);
    }
    REQUIRE(commands.size() > 20);
    const std::vector<Command> examples = help_examples();
    REQUIRE(examples.size() > 10);
    commands.insert(commands.end(), examples.begin(), examples.end());
    // The environment of a user of this checkout: mnet on PATH for docs that say `mnet`, the sandbox's models
    // (as the exe-relative models/ folder is for a real checkout), a cache of its own.
    const std::string env = "cd " + quote(box) + " && export PATH=" + quote(box + "/build") +
                            ":$PATH MNET_MODEL_DIR=" + quote(box + "/models") +
                            " XDG_CACHE_HOME=" + quote(root + "/cache") + " MNET_MIRROR=" + quote(shared_dir()) +
                            " OMP_WAIT_POLICY=passive && ";
    size_t ran = 0;
    for (const Command& c : commands) {
        if (const char* reason = skip_reason(c.text)) {
            WARN("not run: " << c.file << ":" << c.line << ": " << c.text << " (" << reason << ")");
            continue;
        }
        const std::string command = shortened(c.text);
        const RunResult r = run_shell("bash -o pipefail -c " + quote(env + command) + " > /dev/null");
        INFO(c.file << ":" << c.line << ": " << command << "\n" << r.err);
        CHECK(r.status == 0);
        ++ran;
    }
    CHECK(ran >= 30);  // README and docs show about 40 runnable commands today
    std::error_code ec;
    fs::remove_all(root, ec);
}

}  // namespace mnet::test
