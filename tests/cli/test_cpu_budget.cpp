// SPDX-License-Identifier: Apache-2.0
// What `threads = 0` means inside a container or a Slurm task: the cgroup CPU quota read from cgroup trees written
// here (v2 cpu.max, v1 cpu.cfs_quota_us/cpu.cfs_period_us, nested paths, namespaced paths, garbage), and the
// budget made from affinity, quota and OMP_NUM_THREADS. The real affinity and a real cgroup are exercised through
// the binary by test_scaleout.sh (taskset) and test_cgroup.sh.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "graph/cpu_budget.h"
#include "support/test_data.h"

namespace fs = std::filesystem;

namespace {

// A cgroup tree under a temp folder, removed at the end of the test.
struct Tree {
    std::string root = mnet::test::make_temp_dir("cgroup");
    ~Tree() { fs::remove_all(root); }
    void write(const std::string& rel, const std::string& text) const {
        fs::create_directories(fs::path(root + "/" + rel).parent_path());
        std::ofstream(root + "/" + rel) << text;
    }
    double quota(const std::string& self, std::string& source) const {
        return mnet::cgroup_cpu_quota(root, self, source);
    }
};

}  // namespace

TEST_CASE("cgroup v2: cpu.max of the process's cgroup, the smallest up the path", "[cpu_budget]") {
    Tree t;
    t.write("cgroup.controllers", "cpuset cpu io memory pids\n");
    t.write("cpu.max", "max 100000\n");
    t.write("kubepods/cpu.max", "max 100000\n");
    t.write("kubepods/pod1/cpu.max", "250000 100000\n");
    std::string source;
    CHECK(t.quota("0::/kubepods/pod1\n", source) == 2.5);
    CHECK(source == t.root + "/kubepods/pod1/cpu.max");

    t.write("kubepods/cpu.max", "100000 100000\n");  // a parent's limit binds its children
    CHECK(t.quota("0::/kubepods/pod1\n", source) == 1.0);
    CHECK(source == t.root + "/kubepods/cpu.max");

    // A cgroup namespace shows the container's own cgroup as the mount's root.
    t.write("cpu.max", "50000 100000\n");
    CHECK(t.quota("0::/\n", source) == 0.5);
    CHECK(t.quota("0::/not/visible/here\n", source) == 0.5);
}

TEST_CASE("cgroup v2 without a limit, or with unreadable values, has no quota", "[cpu_budget]") {
    Tree t;
    t.write("cgroup.controllers", "cpu\n");
    t.write("cpu.max", "max 100000\n");
    std::string source;
    CHECK(t.quota("0::/\n", source) == 0);
    for (const char* junk : {"", "garbage", "-5 100000", "100000 0", "100000", "1e400 100000x"}) {
        t.write("cpu.max", junk);
        CHECK(t.quota("0::/\n", source) == 0);
    }
    CHECK(t.quota("", source) == 0);                 // no /proc/self/cgroup text
    CHECK(t.quota("nonsense\n0:\n", source) == 0);   // malformed lines
}

TEST_CASE("cgroup v1: cfs quota and period under the cpu hierarchy", "[cpu_budget]") {
    Tree t;
    t.write("cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
    t.write("cpu,cpuacct/cpu.cfs_period_us", "100000\n");
    t.write("cpu,cpuacct/slurm/uid_0/job_5/cpu.cfs_quota_us", "150000\n");
    t.write("cpu,cpuacct/slurm/uid_0/job_5/cpu.cfs_period_us", "100000\n");
    const std::string self = "12:pids:/\n4:cpu,cpuacct:/slurm/uid_0/job_5\n1:name=systemd:/\n0::/\n";
    std::string source;
    CHECK(t.quota(self, source) == 1.5);
    CHECK(source == t.root + "/cpu,cpuacct/slurm/uid_0/job_5/cpu.cfs_quota_us");
    CHECK(t.quota("4:cpu,cpuacct:/\n", source) == 0);  // -1: no limit

    // Mounted as root/cpu (this machine's layout) with the controllers listed alone.
    Tree u;
    u.write("cpu/cpu.cfs_quota_us", "300000\n");
    u.write("cpu/cpu.cfs_period_us", "200000\n");
    CHECK(u.quota("1:cpu:/\n", source) == 1.5);
    CHECK(u.quota("2:cpuacct:/\n", source) == 0);  // not the cpu controller
}

TEST_CASE("the CPU budget: affinity capped by the quota rounded up, OMP_NUM_THREADS wins", "[cpu_budget]") {
    const mnet::CpuBudget plain = mnet::make_cpu_budget("", 8, 0, "");
    CHECK(plain.cpus == 8);
    CHECK(plain.threads == 8);
    CHECK(plain.reason == "affinity 8 CPUs, no cgroup CPU quota");

    const mnet::CpuBudget limited = mnet::make_cpu_budget("", 8, 2.5, "/q/cpu.max");
    CHECK(limited.cpus == 3);
    CHECK(limited.threads == 3);
    CHECK(limited.reason == "affinity 8 CPUs, cgroup CPU quota 2.50 (/q/cpu.max)");

    CHECK(mnet::make_cpu_budget("", 2, 4.0, "q").cpus == 2);   // the affinity is smaller
    CHECK(mnet::make_cpu_budget("", 4, 0.3, "q").cpus == 1);   // at least one
    CHECK(mnet::make_cpu_budget("", 4, 2.0, "q").cpus == 2);   // exact quotas are not rounded up

    const mnet::CpuBudget omp = mnet::make_cpu_budget("3", 8, 2.0, "q");
    CHECK(omp.threads == 3);
    CHECK(omp.cpus == 2);
    CHECK(omp.reason.rfind("OMP_NUM_THREADS=3 (", 0) == 0);
    CHECK(mnet::make_cpu_budget("4,2", 8, 0, "").threads == 4);  // a nested list: its first level
    CHECK(mnet::make_cpu_budget("junk", 8, 0, "").threads == 8);
    CHECK(mnet::make_cpu_budget("0", 8, 0, "").threads == 8);
}
