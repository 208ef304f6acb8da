# SPDX-License-Identifier: Apache-2.0
# The ONNX importer: the fixtures of tests/data/onnx (tools/onnx_zoo/generate.py) against ONNX Runtime's outputs,
# the shared float MobileNetV2 ONNX through mnet-convert and mnet classify, mnet info's MACs, corrupt and crafted
# files (built with the protobuf classes).
if(TARGET mnet_onnx)
  mnet_test(test_onnx
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_onnx.cpp
            ${CMAKE_CURRENT_LIST_DIR}/test_onnx_cli.cpp
            ${CMAKE_CURRENT_LIST_DIR}/test_onnx_errors.cpp
    LIBS mnet_onnx mnet_runtime mnet_onnx_proto nlohmann_json::nlohmann_json)
  target_compile_definitions(test_onnx PRIVATE MNET_CONVERT_EXE="$<TARGET_FILE:mnet-convert>"
                             MNET_CLI_EXE="$<TARGET_FILE:mnet>")
  add_dependencies(test_onnx mnet-convert mnet)
endif()
