# SPDX-License-Identifier: Apache-2.0
# Every op through the oneDNN engine against the naive reference interpreter (src/ops/reference), plus checks of
# the reference itself. model_builder.cpp is compiled in here (tests/support is shared, the builder is ours).
mnet_test(test_ops
  SOURCES
    ${CMAKE_CURRENT_SOURCE_DIR}/ops/op_check.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/ops/test_reference.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/ops/test_conv.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/ops/test_elementwise.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/ops/test_pool.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/ops/test_pad.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/ops/test_graphs.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/ops/test_int8.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/ops/test_u8_gemv.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/ops/test_nhwc_quantize.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/ops/test_quantize_weights.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/ops/test_calibrate.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/ops/test_bf16.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/support/model_builder.cpp
  LIBS mnet_runtime mnet_reference)
