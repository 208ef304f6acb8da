# SPDX-License-Identifier: Apache-2.0
# Unit tests. test_preprocess builds its synthetic images with OpenCV and image_fixtures and reads reference.json with nlohmann.
mnet_test(test_preprocess SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_preprocess.cpp
          LIBS mnet_preprocess mnet_image_fixtures nlohmann_json::nlohmann_json ${OpenCV_LIBS})
target_include_directories(test_preprocess SYSTEM PRIVATE ${OpenCV_INCLUDE_DIRS})

# core/file_io (issue 18): escaping, base64, regular-file reads and limits, the same-file check, AtomicFile.
mnet_test(test_file_io SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_file_io.cpp LIBS mnet_core)
