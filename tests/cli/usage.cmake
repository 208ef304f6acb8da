# SPDX-License-Identifier: Apache-2.0
# How the command line talks to people (issue 20): errors, exit statuses, output flags, help, model sources.
mnet_cli_test(test_cli_usage
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli_usage.cpp)

mnet_cli_test(test_cli_models
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli_models.cpp)

mnet_cli_test(test_cli_docs
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_docs.cpp)

mnet_test(test_cli_sha256 SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli_sha256.cpp ${PROJECT_SOURCE_DIR}/src/cli/sha256.cpp)
mnet_internal_headers(test_cli_sha256 PRIVATE cli)  # compiles src/cli/sha256.cpp

# GCC 12 warns -Wmaybe-uninitialized inside libstdc++'s own <regex> (std::function in _NFA's states) when built
# with -fsanitize=address,undefined at -O1 (scripts/test_sanitizers.sh): a false positive in the library's
# header, not in these files, which -Werror would turn into a failed sanitizer build.
if(MNET_SANITIZE)
  target_compile_options(test_cli_usage PRIVATE -Wno-maybe-uninitialized)
  target_compile_options(test_cli_docs PRIVATE -Wno-maybe-uninitialized)
endif()
