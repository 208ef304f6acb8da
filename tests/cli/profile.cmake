# SPDX-License-Identifier: Apache-2.0
# mnet profile, info and bench, run as a user runs them: the built mnet binary on a real converted model (the
# e2e suite's shared_models.cpp converts it with mnet-convert) and on a small model written with ModelWriter.
mnet_test(test_cli_profile
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/test_profile_common.cpp
    ${CMAKE_CURRENT_LIST_DIR}/test_profile.cpp
    ${CMAKE_CURRENT_LIST_DIR}/test_profile_bench.cpp
    ${CMAKE_CURRENT_LIST_DIR}/test_info.cpp
    ${CMAKE_CURRENT_LIST_DIR}/../e2e/shared_models.cpp
    ${PROJECT_SOURCE_DIR}/src/cli/stats.cpp
  LIBS mnet_model nlohmann_json::nlohmann_json)
target_include_directories(test_cli_profile PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../e2e)
mnet_internal_headers(test_cli_profile PRIVATE cli)  # compiles src/cli/stats.cpp
target_compile_definitions(test_cli_profile PRIVATE MNET_CONVERT_PATH="$<TARGET_FILE:mnet-convert>")
add_dependencies(test_cli_profile mnet mnet-convert)
