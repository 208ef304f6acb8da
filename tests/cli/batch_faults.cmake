# SPDX-License-Identifier: Apache-2.0
# mnet batch under faults (issue 7): permissions (as nobody when run as root), deleted files, 5000 files, full
# devices, file size limits, SIGINT with -o, and peak RSS over a long run.
mnet_cli_test(test_batch_faults
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_batch_faults.cpp
  LIBS mnet_model)

# Issue 18: special files at every path flag, outputs over inputs, signals while inputs misbehave, large images
# decoded by several workers (built with image_fixtures).
mnet_cli_test(test_robust
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_special_files.cpp ${CMAKE_CURRENT_LIST_DIR}/test_robust_regressions.cpp
          ${CMAKE_CURRENT_LIST_DIR}/test_output_files.cpp ${CMAKE_CURRENT_LIST_DIR}/robust_support.cpp
  LIBS mnet_model mnet_image_fixtures)
