# SPDX-License-Identifier: Apache-2.0
# mnet batch under faults (issue 7): permissions (as nobody when run as root), deleted files, 5000 files, full
# devices, file size limits, SIGINT with -o, and peak RSS over a long run.
mnet_test(test_batch_faults
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_batch_faults.cpp ${CMAKE_CURRENT_LIST_DIR}/test_batch_support.cpp
          ${CMAKE_CURRENT_LIST_DIR}/../e2e/shared_models.cpp
  LIBS mnet_model nlohmann_json::nlohmann_json)
target_compile_definitions(test_batch_faults PRIVATE MNET_CONVERT_PATH="$<TARGET_FILE:mnet-convert>")
add_dependencies(test_batch_faults mnet mnet-convert)

# Issue 18: special files at every path flag, outputs over inputs, signals while inputs misbehave, large images
# decoded by several workers (built with image_fixtures).
mnet_test(test_robust
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_special_files.cpp ${CMAKE_CURRENT_LIST_DIR}/test_robust_regressions.cpp
          ${CMAKE_CURRENT_LIST_DIR}/test_output_files.cpp
          ${CMAKE_CURRENT_LIST_DIR}/robust_support.cpp
          ${CMAKE_CURRENT_LIST_DIR}/test_batch_support.cpp ${CMAKE_CURRENT_LIST_DIR}/../e2e/shared_models.cpp
  LIBS mnet_model mnet_image_fixtures nlohmann_json::nlohmann_json)
target_compile_definitions(test_robust PRIVATE MNET_CONVERT_PATH="$<TARGET_FILE:mnet-convert>")
add_dependencies(test_robust mnet mnet-convert)
