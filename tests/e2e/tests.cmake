# SPDX-License-Identifier: Apache-2.0
mnet_test(test_e2e
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_reference_models.cpp ${CMAKE_CURRENT_LIST_DIR}/test_public_api.cpp
          ${CMAKE_CURRENT_LIST_DIR}/test_bf16.cpp
          ${CMAKE_CURRENT_LIST_DIR}/shared_models.cpp ${PROJECT_SOURCE_DIR}/tests/support/model_builder.cpp
  LIBS mnet_runtime mnet_preprocess nlohmann_json::nlohmann_json OpenMP::OpenMP_CXX)
target_compile_definitions(test_e2e PRIVATE MNET_CONVERT_PATH="$<TARGET_FILE:mnet-convert>")
add_dependencies(test_e2e mnet-convert)
# The bf16 refusal on any CPU: oneDNN capped below AVX512_BF16 must make a bf16 session refuse (the case asserts
# the refusal whenever support/bf16_cpu.h sees the cap).
add_test(NAME bf16_refused_with_onednn_capped_at_avx512_core_vnni
         COMMAND test_e2e "bf16: the session refuses exactly where oneDNN cannot run bf16" --warn NoTests)
set_tests_properties(bf16_refused_with_onednn_capped_at_avx512_core_vnni PROPERTIES
                     ENVIRONMENT "ONEDNN_MAX_CPU_ISA=AVX512_CORE_VNNI;MNET_BINARY_DIR=${PROJECT_BINARY_DIR}")

mnet_test(test_int8
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_int8.cpp ${CMAKE_CURRENT_LIST_DIR}/shared_models.cpp
          ${PROJECT_SOURCE_DIR}/tests/support/model_builder.cpp
  LIBS mnet_runtime nlohmann_json::nlohmann_json)
target_compile_definitions(test_int8 PRIVATE MNET_CONVERT_PATH="$<TARGET_FILE:mnet-convert>")
add_dependencies(test_int8 mnet-convert)

# The thread choice of a session asked for threads = 0 (runtime/session_factory.h), with injected timings; once
# more with oneDNN held to AVX2, where the activation layout (and an fp32 summation order) follows the thread count.
mnet_test(test_thread_choice
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_thread_choice.cpp ${CMAKE_CURRENT_LIST_DIR}/shared_models.cpp
          ${PROJECT_SOURCE_DIR}/tests/ops/op_check.cpp ${PROJECT_SOURCE_DIR}/tests/support/model_builder.cpp
  LIBS mnet_runtime mnet_reference nlohmann_json::nlohmann_json)
target_include_directories(test_thread_choice PRIVATE ${PROJECT_SOURCE_DIR}/tests/ops)
target_compile_definitions(test_thread_choice PRIVATE MNET_CONVERT_PATH="$<TARGET_FILE:mnet-convert>")
add_dependencies(test_thread_choice mnet-convert)
catch_discover_tests(test_thread_choice TEST_PREFIX "avx2: " EXTRA_ARGS --warn NoTests
                     PROPERTIES ENVIRONMENT ONEDNN_MAX_CPU_ISA=AVX2)
