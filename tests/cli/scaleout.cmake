# SPDX-License-Identifier: Apache-2.0
# Scale-out (issue 21): the CPU budget (cgroup quota, affinity), --files-from, --resume after kill -9, mnet merge,
# the Kubernetes manifest, a real cgroup, and a real single-node Slurm cluster running the array script.
# ctest -L cluster runs them all; -L slurm only the Slurm one.
mnet_test(test_cpu_budget SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cpu_budget.cpp LIBS mnet_graph)
mnet_test(test_line_reader
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_line_reader.cpp ${PROJECT_SOURCE_DIR}/src/cli/line_reader.cpp
  LIBS mnet_core)
mnet_internal_headers(test_line_reader PRIVATE cli)  # compiles src/cli/line_reader.cpp

set(MNET_SCALEOUT_ARGS $<TARGET_FILE:mnet> $<TARGET_FILE:mnet-convert> ${PROJECT_SOURCE_DIR} ${MNET_DEFAULT_TEST_DATA})
foreach(script scaleout slurm cgroup k8s_manifest)
  add_test(NAME cluster_${script} COMMAND ${CMAKE_CURRENT_LIST_DIR}/test_${script}.sh ${MNET_SCALEOUT_ARGS})
endforeach()
set_tests_properties(cluster_scaleout cluster_slurm cluster_cgroup cluster_k8s_manifest PROPERTIES LABELS cluster TIMEOUT 240)
set_tests_properties(cluster_slurm PROPERTIES LABELS "cluster;slurm;slow")
# 77: the machine lets no one create a cgroup (reported as skipped, never as passed; the parsing is tested above).
set_tests_properties(cluster_cgroup PROPERTIES SKIP_RETURN_CODE 77)
