// SPDX-License-Identifier: Apache-2.0
#include "graph/cpu_budget.h"

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace mnet {

namespace {

// A cgroup file's first line; empty when it cannot be read. These files are a few bytes long.
std::string first_line(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    if (in) std::getline(in, line);
    return line.size() > 256 ? std::string() : line;
}

bool exists(const std::string& path) { return std::ifstream(path).good(); }

// A limit in CPUs, 0 for none. v2: "QUOTA PERIOD" or "max PERIOD"; v1: two files, quota -1 for none.
double read_limit(const std::string& dir, bool v2, std::string& file) {
    double quota = 0, period = 0;
    if (v2) {
        file = dir + "/cpu.max";
        std::istringstream in(first_line(file));
        std::string q;
        if (!(in >> q >> period) || q == "max") return 0;
        quota = std::strtod(q.c_str(), nullptr);
    } else {
        file = dir + "/cpu.cfs_quota_us";
        quota = std::strtod(first_line(file).c_str(), nullptr);
        period = std::strtod(first_line(dir + "/cpu.cfs_period_us").c_str(), nullptr);
    }
    // A cap far above any machine keeps a garbage value (1e400 parses as infinity) from reaching an int.
    constexpr double kMaxCpus = 1e6;
    const double cpus = quota > 0 && period > 0 ? quota / period : 0;
    return std::isfinite(cpus) && cpus < kMaxCpus ? cpus : 0;
}

// The smallest limit from `mount` + `path` up to `mount` itself.
double smallest_limit(const std::string& mount, std::string path, bool v2, std::string& source) {
    if (!exists(mount + path + (v2 ? "/cpu.max" : "/cpu.cfs_quota_us"))) path = "/";
    double best = 0;
    for (;;) {
        std::string file;
        const double limit = read_limit(mount + (path == "/" ? "" : path), v2, file);
        if (limit > 0 && (best == 0 || limit < best)) {
            best = limit;
            source = file;
        }
        if (path.empty() || path == "/") break;
        path = path.substr(0, path.find_last_of('/'));
        if (path.empty()) path = "/";
    }
    return best;
}

int affinity_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

double cgroup_cpu_quota(const std::string& cgroup_root, const std::string& self_cgroup, std::string& source) {
    const bool unified = exists(cgroup_root + "/cgroup.controllers");
    double best = 0;
    std::istringstream lines(self_cgroup);
    for (std::string line; std::getline(lines, line);) {
        // "ID:CONTROLLERS:PATH"; v2's line is "0::PATH".
        const size_t a = line.find(':');
        const size_t b = a == std::string::npos ? a : line.find(':', a + 1);
        if (b == std::string::npos) continue;
        const std::string controllers = line.substr(a + 1, b - a - 1);
        const std::string path = line.substr(b + 1);
        std::vector<std::string> mounts;
        if (controllers.empty() && unified) mounts.push_back(cgroup_root);
        std::istringstream names(controllers);
        for (std::string name; std::getline(names, name, ',');) {
            if (name != "cpu") continue;
            for (const std::string& m : {controllers, std::string("cpu"), std::string("cpu,cpuacct"),
                                          std::string("cpuacct,cpu")}) {
                if (exists(cgroup_root + "/" + m + "/cpu.cfs_quota_us")) {
                    mounts.push_back(cgroup_root + "/" + m);
                    break;
                }
            }
        }
        for (const std::string& mount : mounts) {
            std::string file;
            const double limit = smallest_limit(mount, path, controllers.empty(), file);
            if (limit > 0 && (best == 0 || limit < best)) {
                best = limit;
                source = file;
            }
        }
    }
    return best;
}

CpuBudget make_cpu_budget(const std::string& omp_num_threads, int affinity, double quota,
                          const std::string& quota_source) {
    CpuBudget b;
    const long omp = std::strtol(omp_num_threads.c_str(), nullptr, 10);  // "4" or a nested list "4,2"
    char text[64];
    std::snprintf(text, sizeof text, "affinity %d CPU%s", affinity, affinity == 1 ? "" : "s");
    b.reason = text;
    b.cpus = std::max(1, affinity);
    if (quota > 0 && quota < affinity) {
        const int quota_cpus = std::max(1, static_cast<int>(std::ceil(quota - 1e-9)));
        std::snprintf(text, sizeof text, ", cgroup CPU quota %.2f", quota);
        b.reason += text + (" (" + quota_source + ")");
        b.cpus = std::min(b.cpus, quota_cpus);
    } else {
        b.reason += ", no cgroup CPU quota";
    }
    b.threads = b.cpus;
    if (omp > 0 && omp <= 100000) {
        b.threads = static_cast<int>(omp);
        b.reason = "OMP_NUM_THREADS=" + omp_num_threads + " (" + b.reason + ")";
    }
    return b;
}

CpuBudget cpu_budget() {
    static const CpuBudget budget = [] {
        std::ifstream in("/proc/self/cgroup");
        std::stringstream text;
        text << in.rdbuf();
        std::string source;
        const double quota = cgroup_cpu_quota("/sys/fs/cgroup", text.str(), source);
        const char* omp = std::getenv("OMP_NUM_THREADS");
        return make_cpu_budget(omp ? omp : "", affinity_cpus(), quota, source);
    }();
    return budget;
}

}  // namespace mnet
