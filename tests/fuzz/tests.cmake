# SPDX-License-Identifier: Apache-2.0
# Each fuzz target as an ordinary test, built without libFuzzer: test_fuzz_<target> feeds the target every seed
# built from the real files and every reproducer committed under regressions/<target>/ (docs/fuzzing.md).
if(TARGET mnet_tflite AND TARGET mnet_keras AND TARGET mnet_onnx)
  include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
  foreach(target ${MNET_FUZZ_TARGETS})
    mnet_test(test_fuzz_${target}
      SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_${target}.cpp ${CMAKE_CURRENT_LIST_DIR}/test_fuzz_regressions.cpp
      LIBS mnet_fuzz_seeds ${MNET_FUZZ_LIBS_${target}})
    target_compile_definitions(test_fuzz_${target} PRIVATE MNET_FUZZ_TARGET="${target}")
  endforeach()
  target_compile_definitions(test_fuzz_model PRIVATE MNET_FUZZ_SUPPORT_TESTS=1)
endif()
