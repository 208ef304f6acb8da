# SPDX-License-Identifier: Apache-2.0
# The TFLite importer: structure of converted models, the mnet-convert command line, corrupt and crafted files.
if(TARGET mnet-convert)
  mnet_test(test_tflite
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tools/test_tflite.cpp
            ${CMAKE_CURRENT_SOURCE_DIR}/tools/test_tflite_ops.cpp
            ${CMAKE_CURRENT_SOURCE_DIR}/tools/test_tflite_zoo_ops.cpp
            ${CMAKE_CURRENT_SOURCE_DIR}/tools/tflite_builder.cpp
    LIBS mnet_tflite mnet_model mnet_reference)
  # The tests run the converter binary too; make sure it is built first.
  target_compile_definitions(test_tflite PRIVATE MNET_CONVERT_EXE="$<TARGET_FILE:mnet-convert>")
  add_dependencies(test_tflite mnet-convert)
endif()
