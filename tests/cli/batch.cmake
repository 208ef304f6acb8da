# SPDX-License-Identifier: Apache-2.0
# `mnet batch` and `mnet eval`, run as a user runs them: the built binary on real photos and a converted model.
mnet_test(test_batch
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_batch.cpp ${CMAKE_CURRENT_LIST_DIR}/test_batch_eval.cpp
          ${CMAKE_CURRENT_LIST_DIR}/test_batch_support.cpp ${CMAKE_CURRENT_LIST_DIR}/../e2e/shared_models.cpp
  LIBS nlohmann_json::nlohmann_json)
target_compile_definitions(test_batch PRIVATE MNET_CONVERT_PATH="$<TARGET_FILE:mnet-convert>")
add_dependencies(test_batch mnet mnet-convert)

mnet_test(test_classify
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_classify.cpp ${CMAKE_CURRENT_LIST_DIR}/test_batch_support.cpp
          ${CMAKE_CURRENT_LIST_DIR}/../e2e/shared_models.cpp
  LIBS nlohmann_json::nlohmann_json)
target_compile_definitions(test_classify PRIVATE MNET_CONVERT_PATH="$<TARGET_FILE:mnet-convert>")
add_dependencies(test_classify mnet mnet-convert)
