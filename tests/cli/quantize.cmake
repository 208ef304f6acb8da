# SPDX-License-Identifier: Apache-2.0
# mnet quantize (issue 6): calibrate a converted Keras model on the shared photos, then classify it in int8.
mnet_test(test_quantize
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_quantize.cpp ${CMAKE_CURRENT_LIST_DIR}/test_batch_support.cpp
          ${CMAKE_CURRENT_LIST_DIR}/../e2e/shared_models.cpp
  LIBS nlohmann_json::nlohmann_json)
target_compile_definitions(test_quantize PRIVATE MNET_CONVERT_PATH="$<TARGET_FILE:mnet-convert>")
add_dependencies(test_quantize mnet mnet-convert)
