# SPDX-License-Identifier: Apache-2.0
mnet_test(test_e2e
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_reference_models.cpp ${CMAKE_CURRENT_LIST_DIR}/test_public_api.cpp
          ${CMAKE_CURRENT_LIST_DIR}/shared_models.cpp
  LIBS mnet_runtime mnet_preprocess nlohmann_json::nlohmann_json OpenMP::OpenMP_CXX)
target_compile_definitions(test_e2e PRIVATE MNET_CONVERT_PATH="$<TARGET_FILE:mnet-convert>")
add_dependencies(test_e2e mnet-convert)

mnet_test(test_int8
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_int8.cpp ${CMAKE_CURRENT_LIST_DIR}/shared_models.cpp
          ${PROJECT_SOURCE_DIR}/tests/support/model_builder.cpp
  LIBS mnet_runtime nlohmann_json::nlohmann_json)
target_compile_definitions(test_int8 PRIVATE MNET_CONVERT_PATH="$<TARGET_FILE:mnet-convert>")
add_dependencies(test_int8 mnet-convert)
