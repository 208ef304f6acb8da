# SPDX-License-Identifier: Apache-2.0
# How the command line talks to people (issue 20): errors, exit statuses, output flags, help, model sources.
mnet_test(test_cli_usage
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli_usage.cpp ${CMAKE_CURRENT_LIST_DIR}/test_batch_support.cpp
          ${CMAKE_CURRENT_LIST_DIR}/../e2e/shared_models.cpp
  LIBS nlohmann_json::nlohmann_json)
target_compile_definitions(test_cli_usage PRIVATE MNET_CONVERT_PATH="$<TARGET_FILE:mnet-convert>")
add_dependencies(test_cli_usage mnet mnet-convert)

mnet_test(test_cli_models
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli_models.cpp ${CMAKE_CURRENT_LIST_DIR}/test_batch_support.cpp
          ${CMAKE_CURRENT_LIST_DIR}/../e2e/shared_models.cpp
  LIBS nlohmann_json::nlohmann_json)
target_compile_definitions(test_cli_models PRIVATE MNET_CONVERT_PATH="$<TARGET_FILE:mnet-convert>")
add_dependencies(test_cli_models mnet mnet-convert)

mnet_test(test_cli_docs
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_docs.cpp ${CMAKE_CURRENT_LIST_DIR}/test_batch_support.cpp
          ${CMAKE_CURRENT_LIST_DIR}/../e2e/shared_models.cpp
  LIBS nlohmann_json::nlohmann_json)
target_compile_definitions(test_cli_docs PRIVATE MNET_CONVERT_PATH="$<TARGET_FILE:mnet-convert>")
add_dependencies(test_cli_docs mnet mnet-convert)

mnet_test(test_cli_sha256 SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli_sha256.cpp ${PROJECT_SOURCE_DIR}/src/cli/sha256.cpp)
mnet_internal_headers(test_cli_sha256 PRIVATE cli)  # compiles src/cli/sha256.cpp

# GCC 12 warns -Wmaybe-uninitialized inside libstdc++'s own <regex> (std::function in _NFA's states) when built
# with -fsanitize=address,undefined at -O1 (scripts/test_sanitizers.sh): a false positive in the library's
# header, not in these files, which -Werror would turn into a failed sanitizer build.
if(MNET_SANITIZE)
  target_compile_options(test_cli_usage PRIVATE -Wno-maybe-uninitialized)
  target_compile_options(test_cli_docs PRIVATE -Wno-maybe-uninitialized)
endif()
