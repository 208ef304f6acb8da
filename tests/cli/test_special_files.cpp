// SPDX-License-Identifier: Apache-2.0
// Issue 18: special files (a FIFO, /dev/zero, /dev/urandom, /dev/null, a folder, a dangling symbolic link, a
// link loop, a socket) given to every path-taking flag of every subcommand and of mnet-convert. Each run must end
// within 2 s with one line on stderr naming the file and a documented non-zero status (1 some inputs failed,
// 2 usage, 3 I/O, 4 model), in at most 200 MB. An output flag may accept a device it can write (/dev/null): that
// is a normal use, and the run then succeeds.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/robust_support.h"
#include "cli/test_batch_support.h"
#include "support/test_data.h"

namespace fs = std::filesystem;

namespace mnet::test {
namespace {

size_t count_of(const std::string& text, const std::string& needle) {
    size_t n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
    return n;
}

constexpr double kDeadlineSeconds = 2.0;
constexpr long kMaxRssKb = 200 * 1024;

struct Special {
    std::string kind;
    std::string path;
};

// Every kind of special file, created in `dir` with the extension `ext` where the program looks at names.
std::vector<Special> make_specials(const std::string& dir, const std::string& ext) {
    std::vector<Special> s;
    const std::string fifo = dir + "/fifo" + ext;
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    s.push_back({"FIFO", fifo});
    for (const char* dev : {"/dev/zero", "/dev/urandom", "/dev/null"}) {
        const std::string link = dir + "/" + fs::path(dev).filename().string() + ext;
        fs::create_symlink(dev, link);  // the name keeps the extension; the open follows the link
        s.push_back({dev, link});
    }
    fs::create_directory(dir + "/folder" + ext);
    s.push_back({"folder", dir + "/folder" + ext});
    fs::create_symlink(dir + "/nothing-here", dir + "/dangling" + ext);
    s.push_back({"dangling link", dir + "/dangling" + ext});
    fs::create_symlink("loop-b" + ext, dir + "/loop-a" + ext);
    fs::create_symlink("loop-a" + ext, dir + "/loop-b" + ext);
    s.push_back({"link loop", dir + "/loop-a" + ext});
    const std::string sock = dir + "/socket" + ext;
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    REQUIRE(sock.size() < sizeof addr.sun_path);
    std::copy(sock.begin(), sock.end(), addr.sun_path);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    ::close(fd);  // the socket file stays
    s.push_back({"socket", sock});
    return s;
}

struct Case {
    std::string what;                 // for the report: "batch -o"
    std::vector<std::string> before;  // the arguments before the special path
    std::vector<std::string> after;   // and after it
    std::string ext;                  // the extension the special file needs
    bool output = false;              // an output flag: a writable device is accepted
};

void check_case(const Case& c, const std::string& dir) {
    fs::create_directories(dir);
    for (const Special& s : make_specials(dir, c.ext)) {
        std::vector<std::string> args = c.before;
        args.push_back(s.path);
        args.insert(args.end(), c.after.begin(), c.after.end());
        const Measured m = run_measured(args, 30.0);
        INFO(c.what << " " << s.kind << " (" << s.path << "): status " << m.status << ", " << m.seconds << " s, "
                    << m.max_rss_kb << " KB\nstderr: " << m.err);
        CHECK_FALSE(m.timed_out);
        CHECK(m.seconds <= prompt_bound(kDeadlineSeconds));
        CHECK(m.max_rss_kb <= kMaxRssKb);
        const bool writable_device = c.output && s.kind.rfind("/dev/", 0) == 0;
        if (writable_device && m.status == 0) continue;
        CHECK((m.status >= 1 && m.status <= 4));
        // One error line; a warning about the run itself (quantize's small calibration set) may precede it.
        CHECK(line_count(m.err) - count_of(m.err, ": warning: ") == 1);
        CHECK(m.err.find(": error: ") != std::string::npos);
        CHECK(m.err.find(fs::path(s.path).filename().string()) != std::string::npos);
    }
    fs::remove_all(dir);
}

}  // namespace

TEST_CASE("special files at every path flag end at once with one line and a documented status",
          "[cli][robust][special][slow]") {
    const std::string root = make_temp_dir("special-files");
    const std::string model = test_model();
    const std::string photo = shared_photos().at("dog");
    const std::string mnet = mnet_path();
    const std::string convert = convert_path();
    const std::string tflite = shared_dir() + "/models/mobilenet_v1_0.75_192_quant/mobilenet_v1_0.75_192_quant.tflite";
    const std::string out = root + "/out";
    const std::vector<Case> cases = {
        {"classify -m", {mnet, "classify", "-m"}, {photo}, ".json"},
        {"classify image", {mnet, "classify", "-m", model}, {}, ".jpg"},
        {"batch -m", {mnet, "batch", "-q", "-m"}, {photo}, ".json"},
        {"batch input", {mnet, "batch", "-q", "-m", model}, {}, ".jpg"},
        {"batch -o", {mnet, "batch", "-q", "-m", model, "-o"}, {photo}, ".jsonl", true},
        {"eval -m", {mnet, "eval", "-q", "-m"}, {root}, ".json"},
        {"eval target", {mnet, "eval", "-q", "-m", model}, {}, ".csv"},
        {"eval --csv", {mnet, "eval", "-q", "-m", model, "--csv"}, {}, ".csv"},
        {"profile -m", {mnet, "profile", "-n", "1", "--warmup", "0", "-m"}, {}, ".json"},
        {"profile image", {mnet, "profile", "-n", "1", "--warmup", "0", "-m", model}, {}, ".jpg"},
        {"profile -o", {mnet, "profile", "-n", "1", "--warmup", "0", "-m", model, "-o"}, {}, ".txt", true},
        {"profile --svg", {mnet, "profile", "-n", "1", "--warmup", "0", "-m", model, "--svg"}, {}, ".svg", true},
        {"bench -m", {mnet, "bench", "-n", "1", "--warmup", "0", "-m"}, {}, ".json"},
        {"info -m", {mnet, "info", "-m"}, {}, ".json"},
        {"classify -o", {mnet, "classify", "-m", model, "-o"}, {photo}, ".txt", true},
        {"info -o", {mnet, "info", "-m", model, "-o"}, {}, ".json", true},
        {"models -o", {mnet, "models", "-o"}, {}, ".txt", true},
        {"quantize -m", {mnet, "quantize", "-b", "1", "--calibrate", photo, "-o", out + "/q.json", "-m"}, {}, ".json"},
        {"quantize --calibrate", {mnet, "quantize", "-b", "1", "-m", float_model(), "-o", out + "/q.json", "--calibrate"}, {}, ".jpg"},
        {"quantize -o", {mnet, "quantize", "-b", "1", "-m", float_model(), "--calibrate", photo, "-o"}, {}, ".json", true},
        {"mnet-convert .tflite", {convert}, {"-o", out + "/c.json"}, ".tflite"},
        {"mnet-convert .h5", {convert}, {"-o", out + "/c.json"}, ".h5"},
        {"mnet-convert model.json", {convert}, {"-o", out + "/c.json"}, ".json"},
        {"mnet-convert --labels", {convert, tflite, "-o", out + "/c.json", "--labels"}, {}, ".txt"},
        {"mnet-convert -o", {convert, tflite, "-o"}, {}, ".json", true},
    };
    fs::create_directories(out);
    int n = 0;
    for (const Case& c : cases) {
        SECTION(c.what) { check_case(c, root + "/case" + std::to_string(n)); }
        ++n;
    }
    fs::remove_all(root);
}

}  // namespace mnet::test
