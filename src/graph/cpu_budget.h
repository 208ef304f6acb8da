// SPDX-License-Identifier: Apache-2.0
// How many CPUs this process may use (mnet::cpu_budget in mnet/engine.h), in parts the tests can drive: the
// cgroup files are read below a root given as a parameter.
#pragma once

#include <string>

#include "mnet/engine.h"

namespace mnet {

// The CPU quota of the process's cgroups in CPUs (quota / period; the smallest along the path from the process's
// cgroup up to the root, since a parent's limit applies to its children), or 0 when no limit is set.
// `cgroup_root` is where the cgroup file systems are mounted (/sys/fs/cgroup); `self_cgroup` the text of
// /proc/self/cgroup. cgroup v2 (cgroup.controllers at the root): cpu.max "QUOTA PERIOD" or "max PERIOD".
// cgroup v1: cpu.cfs_quota_us (-1: none) and cpu.cfs_period_us under the hierarchy mounted for the cpu
// controller (root/cpu, root/cpu,cpuacct, ...). A path that does not exist below the mount (a container whose
// cgroup namespace hides it) falls back to the mount itself. `source` names the file that set the limit.
double cgroup_cpu_quota(const std::string& cgroup_root, const std::string& self_cgroup, std::string& source);

// The budget from its inputs: `omp_num_threads` (the variable's value, empty when unset) wins when it starts
// with a positive integer; else min(affinity_cpus, ceil(quota)) when quota > 0, else affinity_cpus; at least 1.
CpuBudget make_cpu_budget(const std::string& omp_num_threads, int affinity_cpus, double quota,
                          const std::string& quota_source);

}  // namespace mnet
