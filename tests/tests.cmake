# SPDX-License-Identifier: Apache-2.0
# Each test folder declares its executables in its own tests.cmake.
foreach(dir unit model ops e2e cli tools)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/tests.cmake)
    include(${CMAKE_CURRENT_SOURCE_DIR}/${dir}/tests.cmake)
  endif()
endforeach()
