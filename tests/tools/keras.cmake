# SPDX-License-Identifier: Apache-2.0
# The Keras importer: the shared .h5 and Teachable Machine models against their references, `mnet classify` with
# Korean labels, and small Keras models the tests write (TF.js folders, .h5 files, .keras archives) against a naive
# NHWC reference or as hostile files.
if(TARGET mnet_keras)
  mnet_test(test_keras
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_keras.cpp
            ${CMAKE_CURRENT_LIST_DIR}/test_keras_layers.cpp
            ${CMAKE_CURRENT_LIST_DIR}/test_keras_errors.cpp
            ${CMAKE_CURRENT_LIST_DIR}/test_keras_support.cpp
            ${CMAKE_CURRENT_LIST_DIR}/test_keras_naive.cpp
    LIBS mnet_keras mnet_runtime mnet_hdf5 PkgConfig::LIBZIP nlohmann_json::nlohmann_json)
  # The CLI tests run both binaries; build them first.
  target_compile_definitions(test_keras PRIVATE MNET_CONVERT_EXE="$<TARGET_FILE:mnet-convert>"
                             MNET_CLI_EXE="$<TARGET_FILE:mnet>")
  add_dependencies(test_keras mnet-convert mnet)
endif()
