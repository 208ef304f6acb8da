# SPDX-License-Identifier: Apache-2.0
# The bad-input image suite through the mnet command (issue 7), on files from tests/unit/image_fixtures.cpp.
mnet_test(test_cli_images
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_images.cpp ${CMAKE_CURRENT_LIST_DIR}/test_batch_support.cpp
          ${CMAKE_CURRENT_LIST_DIR}/../e2e/shared_models.cpp
  LIBS mnet_image_fixtures nlohmann_json::nlohmann_json)
target_compile_definitions(test_cli_images PRIVATE MNET_CONVERT_PATH="$<TARGET_FILE:mnet-convert>")
add_dependencies(test_cli_images mnet mnet-convert)
