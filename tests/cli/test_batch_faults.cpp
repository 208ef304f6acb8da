// SPDX-License-Identifier: Apache-2.0
// mnet batch under faults (issue 7): unreadable files and folders (checked as an unprivileged user even when
// the tests run as root), files deleted mid-run, thousands of files with few descriptors, a full device, a
// file size limit, SIGINT with an output file, and flat memory over a long run. Closed pipes and SIGINT/SIGTERM
// on standard output are in test_batch.cpp.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/test_batch_support.h"
#include "model/writer.h"
#include "support/test_data.h"

extern char** environ;

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace mnet::test {
namespace {

constexpr const char* kNobody = "65534";  // Debian's nobody/nogroup

std::string batch_cmd(const std::string& flags) { return mnet() + " batch -m " + quote(test_model()) + " " + flags; }

// Each line of `out` as JSON, and its "file".
std::vector<json> parse_lines(const std::string& out) {
    std::vector<json> records;
    for (const std::string& line : lines_of(out)) records.push_back(json::parse(line));
    return records;
}

struct Child {
    pid_t pid = -1;
    int out_fd = -1;  // read end of its stdout, or -1 when stdout went to a file
};

// Starts `args` (args[0] is the program path) without a shell: stdout to a pipe (out_path empty) or to
// out_path, stderr to err_path.
Child spawn_child(const std::vector<std::string>& args, const std::string& out_path, const std::string& err_path) {
    int fds[2] = {-1, -1};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (out_path.empty()) {
        REQUIRE(pipe(fds) == 0);
        posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
        posix_spawn_file_actions_addclose(&actions, fds[0]);
        posix_spawn_file_actions_addclose(&actions, fds[1]);
    } else {
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    }
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> all = args;
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    Child c;
    const int rc = posix_spawn(&c.pid, all[0].c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (out_path.empty()) close(fds[1]);
    REQUIRE(rc == 0);
    c.out_fd = out_path.empty() ? fds[0] : -1;
    return c;
}

struct ChildExit {
    int status = -1;      // exit status, or 128 + signal
    long max_rss_kb = 0;  // this child's peak resident set (wait4, not RUSAGE_CHILDREN: that is a maximum over all)
};

ChildExit wait_child(pid_t pid) {
    int raw = 0;
    struct rusage usage {};
    REQUIRE(wait4(pid, &raw, 0, &usage) == pid);
    return {WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw), usage.ru_maxrss};
}

std::string mnet_path() { return std::string(MNET_BINARY_DIR) + "/mnet"; }

// A 3-input, 4-class model on 8x8 images (global average pool, fully connected, softmax) written with
// ModelWriter: inference costs nothing, so runs over thousands of files measure mnet's own handling of them.
std::string write_tiny_model(const std::string& dir) {
    ModelDef def;
    def.name = "tiny";
    def.input.name = "input";
    def.input.shape = {1, 3, 8, 8};
    def.preprocess.height = 8;
    def.preprocess.width = 8;
    def.preprocess.crop = 1.0;
    def.preprocess.mean = {0.0f, 0.0f, 0.0f};
    def.preprocess.std = {255.0f, 255.0f, 255.0f};
    def.labels = {"red", "green", "blue", "grey"};
    def.outputs = {OutputDef{"probs", OutputKind::Probabilities}};
    ModelWriter writer(def);
    const std::string w = writer.add_f32("fc.weights", {4, 3}, {4, 0, 0, 0, 4, 0, 0, 0, 4, 1, 1, 1});
    const std::string b = writer.add_f32("fc.bias", {4}, {0, 0, 0, 0});
    NodeDef gap;
    gap.name = "pool";
    gap.op = "global_avg_pool";
    gap.inputs = {"input"};
    gap.output = "pooled";
    gap.attrs["keepdims"] = int64_t{0};
    NodeDef fc;
    fc.name = "fc";
    fc.op = "fully_connected";
    fc.inputs = {"pooled"};
    fc.output = "logits";
    fc.weights = {{"weights", w}, {"bias", b}};
    NodeDef softmax;
    softmax.name = "softmax";
    softmax.op = "softmax";
    softmax.inputs = {"logits"};
    softmax.output = "probs";
    writer.def().nodes = {gap, fc, softmax};
    const std::string path = dir + "/tiny.json";
    writer.write(path);
    return path;
}

// A folder holding `count` hard links to the shared photos, named 00000.jpg... (the five photos in turn).
std::string linked_photos(const std::string& tag, size_t count) {
    const std::string dir = make_temp_dir(tag);
    std::vector<std::string> photos;
    for (const auto& [stem, path] : shared_photos()) {
        const std::string own = dir + "/." + fs::path(path).filename().string();  // hidden: not listed itself
        copy_file(path, own);
        photos.push_back(own);
    }
    for (size_t i = 0; i < count; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "/%05zu", i);
        const std::string& photo = photos[i % photos.size()];
        fs::create_hard_link(photo, dir + name + fs::path(photo).extension().string());
    }
    return dir;
}

}  // namespace

TEST_CASE("batch reports unreadable files and folders by name and carries on", "[cli][batch][faults]") {
    // Root reads anything, so as root the run drops to nobody; a test that cannot check permissions fails.
    const bool root = geteuid() == 0;
    std::string as_user;
    if (root) {
        REQUIRE(run_shell("command -v setpriv").status == 0);
        as_user = std::string("setpriv --reuid=") + kNobody + " --regid=" + kNobody + " --clear-groups ";
    }
    // Everything the unprivileged run needs lives in one world-readable folder: a copy of the binary (the build
    // folder may sit below an unreadable home) and of the model.
    const std::string dir = make_temp_dir("batch-unreadable");
    fs::permissions(dir, fs::perms(0755));
    const std::string bin = dir + "/mnet";
    fs::copy_file(mnet_path(), bin);
    fs::permissions(bin, fs::perms(0755));
    const fs::path model_src(test_model());
    const std::string model = dir + "/" + model_src.filename().string();
    for (const auto& entry : fs::directory_iterator(model_src.parent_path())) {
        fs::copy_file(entry.path(), dir + "/" + entry.path().filename().string());
    }
    const std::string in = dir + "/in";
    copy_file(shared_photos().at("dog"), in + "/a.jpg");
    copy_file(shared_photos().at("chelsea"), in + "/b.png");
    copy_file(shared_photos().at("eagle"), in + "/locked.jpg");
    copy_file(shared_photos().at("coffee"), in + "/sub/c.png");
    copy_file(shared_photos().at("kite"), in + "/shut/d.jpg");
    fs::permissions(in + "/locked.jpg", fs::perms::none);
    fs::permissions(in + "/shut", fs::perms::none);
    fs::create_directory(dir + "/readonly");
    fs::permissions(dir + "/readonly", fs::perms(0555));

    // The check is real: this user cannot read the locked file.
    REQUIRE(run_shell(as_user + "cat " + quote(in + "/locked.jpg")).status != 0);

    const RunResult r = run_shell(as_user + quote(bin) + " batch -r -m " + quote(model) + " " + quote(in));
    INFO(r.err);
    CHECK(r.status == 1);
    std::map<std::string, json> records;
    for (const json& j : parse_lines(r.out)) records[j.at("file").get<std::string>()] = j;
    CHECK(records.size() == 5);
    for (const char* ok : {"/a.jpg", "/b.png", "/sub/c.png"}) {
        CAPTURE(ok);
        REQUIRE(records.count(in + ok) == 1);
        CHECK(records.at(in + ok).contains("predictions"));
    }
    REQUIRE(records.count(in + "/locked.jpg") == 1);
    CHECK(records.at(in + "/locked.jpg").at("error") ==
          in + "/locked.jpg: cannot read image file (Permission denied)");
    CHECK(r.err.find("mnet: error: " + in + "/locked.jpg: cannot read image file (Permission denied)") !=
          std::string::npos);
    REQUIRE(records.count(in + "/shut") == 1);
    CHECK(records.at(in + "/shut").at("error").get<std::string>().find("Permission denied") != std::string::npos);

    const RunResult c = run_shell(as_user + quote(bin) + " classify -m " + quote(model) + " " + quote(in + "/locked.jpg"));
    CHECK(c.status == 1);
    CHECK(c.err == "mnet: error: " + in + "/locked.jpg: cannot read image file (Permission denied)\n");

    const RunResult o = run_shell(as_user + quote(bin) + " batch -m " + quote(model) + " -o " +
                                  quote(dir + "/readonly/out.jsonl") + " " + quote(in + "/a.jpg"));
    CHECK(o.status == 3);
    CHECK(o.err.find("out.jsonl: cannot create output file (Permission denied)") != std::string::npos);
}

TEST_CASE("files deleted during a batch become error records in their places", "[cli][batch][faults]") {
    constexpr int kFiles = 30, kFirstDeleted = 15;
    const std::string dir = make_temp_dir("batch-deleted");
    for (int i = 0; i < kFiles; ++i) copy_file(shared_photos().at("coffee"), dir + "/" + std::to_string(100 + i) + ".png");
    // One image per batch and one worker: the workers are at most a few files ahead of the output.
    const Child c = spawn_child({mnet_path(), "batch", "-b", "1", "-j", "1", "-m", test_model(), dir}, "",
                                dir + "/err.txt");
    std::string out;
    char buf[4096];
    bool deleted = false;
    for (;;) {
        const ssize_t n = read(c.out_fd, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
        if (!deleted && out.find('\n') != std::string::npos) {
            for (int i = kFirstDeleted; i < kFiles; ++i) fs::remove(dir + "/" + std::to_string(100 + i) + ".png");
            deleted = true;
        }
    }
    close(c.out_fd);
    CHECK(wait_child(c.pid).status == 1);
    const auto records = parse_lines(out);
    REQUIRE(records.size() == kFiles);
    for (int i = 0; i < kFiles; ++i) {
        const std::string file = dir + "/" + std::to_string(100 + i) + ".png";
        CAPTURE(i);
        CHECK(records[static_cast<size_t>(i)].at("file") == file);
        if (i < kFirstDeleted) {
            CHECK(records[static_cast<size_t>(i)].contains("predictions"));
        } else {
            CHECK(records[static_cast<size_t>(i)].at("error") ==
                  file + ": cannot read image file (No such file or directory)");
        }
    }
}

TEST_CASE("a folder of 5000 files: one record each, sorted, with 64 file descriptors", "[cli][batch][faults]") {
    constexpr size_t kFiles = 5000;
    const std::string dir = make_temp_dir("batch-thousands");
    const std::string model = write_tiny_model(dir);
    const std::string in = dir + "/in";
    fs::create_directory(in);
    // A valid 1x1 PNG, linked 5000 times: decoding and inference cost nothing, the listing and the
    // per-file handling are what is measured.
    const std::vector<uint8_t> tiny_png = {
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53, 0xde, 0x00, 0x00, 0x00,
        0x0c, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xdf, 0xc0, 0x00, 0x00, 0x04, 0x01, 0x01, 0x80, 0xc5,
        0x2a, 0x18, 0x5d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
    write_file_bytes(dir + "/tiny.png", tiny_png);
    for (size_t i = 0; i < kFiles; ++i) fs::create_hard_link(dir + "/tiny.png", in + "/" + std::to_string(i) + ".png");
    // A descriptor leaked per file would run out long before the end.
    const RunResult r =
        run_shell("prlimit --nofile=64 " + mnet() + " batch -q -b 16 -m " + quote(model) + " " + quote(in));
    INFO(r.err.substr(0, 2000));
    CHECK(r.status == 0);
    CHECK(r.err.empty());
    const auto records = parse_lines(r.out);
    REQUIRE(records.size() == kFiles);
    std::vector<std::string> files;
    for (const json& j : records) {
        files.push_back(j.at("file").get<std::string>());
        CHECK(j.at("predictions").size() == 4);
    }
    CHECK(std::is_sorted(files.begin(), files.end()));
    CHECK(std::adjacent_find(files.begin(), files.end()) == files.end());
}

TEST_CASE("output to a full device is a clean error with status 3", "[cli][batch][faults][slow]") {
    const std::string photo = shared_photos().at("chelsea");
    SECTION("batch -o /dev/full and > /dev/full") {
        const RunResult o = run_shell(batch_cmd("-q -o /dev/full " + quote(photo)));
        CHECK(o.status == 3);
        CHECK(o.err == "mnet: error: /dev/full: cannot write (No space left on device); stopped after 0 of 1 files\n");
        const RunResult s = run_shell(batch_cmd("-q " + quote(photo)) + " > /dev/full");
        CHECK(s.status == 3);
        CHECK(s.err ==
              "mnet: error: standard output: cannot write (No space left on device); stopped after 0 of 1 files\n");
    }
    SECTION("classify, eval and info on standard output") {
        const std::string expected = "mnet: error: standard output: cannot write (No space left on device)\n";
        const RunResult c = run_shell(mnet() + " classify -m " + quote(test_model()) + " " + quote(photo) + " > /dev/full");
        CHECK(c.status == 3);
        CHECK(c.err == expected);
        const RunResult j = run_shell(mnet() + " classify --json -m " + quote(test_model()) + " /nonexistent.jpg > /dev/full");
        CHECK(j.status == 3);
        CHECK(j.err.find(expected) != std::string::npos);
        const std::string classes = make_temp_dir("full-eval");
        copy_file(photo, classes + "/Egyptian cat/c.png");
        const RunResult e = run_shell(mnet() + " eval -q -m " + quote(test_model()) + " " + quote(classes) + " > /dev/full");
        CHECK(e.status == 3);
        CHECK(e.err == expected);
        const RunResult i = run_shell(mnet() + " info -m " + quote(test_model()) + " > /dev/full");
        CHECK(i.status == 3);
        CHECK(i.err == expected);
    }
}

TEST_CASE("a file size limit stops batch with whole lines only, appended output kept", "[cli][batch][faults][slow]") {
    constexpr int kFiles = 40;
    constexpr int kLimitBytes = 4096;  // about 9 records of 5 predictions
    const std::string dir = make_temp_dir("batch-fsize");
    const std::string in = dir + "/in";
    for (int i = 0; i < kFiles; ++i) copy_file(shared_photos().at("coffee"), in + "/" + std::to_string(100 + i) + ".png");
    const RunResult full = run_shell(batch_cmd("-q " + quote(in)));
    REQUIRE(full.status == 0);
    const auto all = lines_of(full.out);
    REQUIRE(all.size() == kFiles);
    REQUIRE(full.out.size() > 2 * kLimitBytes);

    const std::string limit = "prlimit --fsize=" + std::to_string(kLimitBytes) + " ";
    auto check_prefix = [&](const std::string& text) {
        REQUIRE(!text.empty());
        CHECK(text.back() == '\n');  // no half line
        const auto lines = lines_of(text);
        CHECK(lines.size() < all.size());
        for (size_t i = 0; i < lines.size(); ++i) CHECK(lines[i] == all[i]);
        return lines.size();
    };
    SECTION("-o FILE") {
        const std::string out = dir + "/out.jsonl";
        const RunResult r = run_shell(limit + batch_cmd("-q -b 2 -o " + quote(out) + " " + quote(in)));
        INFO(r.err);
        CHECK(r.status == 3);  // not 153, death by SIGXFSZ
        CHECK(r.err.find("cannot write (File too large); stopped after ") != std::string::npos);
        const size_t kept = check_prefix(slurp_file(out));
        CHECK(r.err.find("stopped after " + std::to_string(kept) + " of 40 files") != std::string::npos);
    }
    SECTION(">> FILE keeps what was there") {
        const std::string out = dir + "/appended.jsonl";
        const std::string before = "{\"previous\":\"run\"}\n";
        write_text_file(out, before);
        const RunResult r = run_shell(limit + batch_cmd("-q -b 2 " + quote(in)) + " >> " + quote(out));
        INFO(r.err);
        CHECK(r.status == 3);
        const std::string text = slurp_file(out);
        REQUIRE(text.compare(0, before.size(), before) == 0);
        check_prefix(text.substr(before.size()));
    }
}

TEST_CASE("SIGINT with -o FILE: the file holds exactly the records the message counts", "[cli][batch][faults]") {
    const std::string dir = make_temp_dir("batch-sigint-file");
    const std::string in = dir + "/in";
    for (int i = 0; i < 40; ++i) copy_file(shared_photos().at("coffee"), in + "/" + std::to_string(100 + i) + ".png");
    const std::string out = dir + "/out.jsonl";
    const Child c = spawn_child({mnet_path(), "batch", "-b", "1", "-j", "1", "-m", test_model(), "-o", out, in},
                                dir + "/stdout.txt", dir + "/err.txt");
    // Wait for the first record, then interrupt.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
    while (slurp_file(out).find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill(c.pid, SIGINT);
    CHECK(wait_child(c.pid).status == 130);
    const std::string text = slurp_file(out);
    REQUIRE(!text.empty());
    CHECK(text.back() == '\n');
    const size_t lines = lines_of(text).size();
    CHECK(lines < 40);
    const std::string err = slurp_file(dir + "/err.txt");
    INFO(err);
    CHECK(err.find("interrupted by SIGINT after " + std::to_string(lines) + " of 40 files") != std::string::npos);
}

TEST_CASE("memory stays flat: peak RSS of 10x more images within 1.25x", "[cli][batch][faults][rss][slow]") {
    // The figures are 500 and 5000 images (the report has them, measured by hand); CI runs 60 and 600
    // of the same five photos with the V1 0.75/192 model, enough to show a leak of even one decoded photo per
    // image (about 1 MB each) against the ~120 MB the process needs.
    constexpr size_t kSmall = 60, kLarge = 600;
    constexpr double kMaxGrowth = 1.25;
    long rss[2] = {0, 0};
    const size_t counts[2] = {kSmall, kLarge};
    for (int k = 0; k < 2; ++k) {
        const std::string dir = linked_photos("batch-rss", counts[k]);
        const Child c = spawn_child({mnet_path(), "batch", "-q", "-m", test_model(), dir}, "/dev/null", dir + "/.err");
        const ChildExit e = wait_child(c.pid);
        INFO(slurp_file(dir + "/.err"));
        REQUIRE(e.status == 0);
        rss[k] = e.max_rss_kb;
    }
    INFO("peak RSS: " << rss[0] << " kB for " << kSmall << " images, " << rss[1] << " kB for " << kLarge);
    CHECK(static_cast<double>(rss[1]) <= kMaxGrowth * static_cast<double>(rss[0]));
}

}  // namespace mnet::test
