// SPDX-License-Identifier: Apache-2.0
#include "cli/robust_support.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/test_data.h"

namespace mnet::test {

namespace {

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

const std::string& float_model() {
    static const std::string path = [] {
        const std::string dir = make_temp_dir("robust-float-model");
        const std::string out = dir + "/keras.json";
        const Measured m = run_measured({convert_path(), shared_dir() + "/models/mobilenet_v1_0.25_224_keras/"
                                         "mobilenet_v1_0.25_224.h5", "-o", out}, 120.0);
        if (m.status != 0) throw std::runtime_error("mnet-convert of the Keras model failed: " + m.err);
        return out;
    }();
    return path;
}

std::string mnet_path() { return std::string(MNET_BINARY_DIR) + "/mnet"; }
std::string convert_path() { return std::string(MNET_BINARY_DIR) + "/mnet-convert"; }

Measured run_measured(const std::vector<std::string>& args, double deadline_s) {
    static const std::string dir = make_temp_dir("robust-run");
    static int counter = 0;
    const std::string out_path = dir + "/out" + std::to_string(counter) + ".txt";
    const std::string err_path = dir + "/err" + std::to_string(counter++) + ".txt";
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const auto start = std::chrono::steady_clock::now();
    const pid_t pid = fork();
    if (pid == 0) {
        const int in = ::open("/dev/null", O_RDONLY);
        const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(in, STDIN_FILENO);
        dup2(out, STDOUT_FILENO);
        dup2(err, STDERR_FILENO);
        execv(argv[0], argv.data());
        _exit(127);
    }
    Measured m;
    int raw = 0;
    struct rusage usage {};
    for (;;) {
        const pid_t done = wait4(pid, &raw, WNOHANG, &usage);
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (done == pid) {
            m.seconds = elapsed;
            break;
        }
        if (elapsed > deadline_s && !m.timed_out) {
            m.timed_out = true;
            kill(pid, SIGKILL);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    m.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
    m.max_rss_kb = usage.ru_maxrss;
    m.out = read_all(out_path);
    m.err = read_all(err_path);
    return m;
}

size_t line_count(const std::string& text) {
    size_t n = 0;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) n += !line.empty();
    return n;
}

}  // namespace mnet::test
