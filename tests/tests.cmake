# SPDX-License-Identifier: Apache-2.0
# Each test folder declares its executables in its own *.cmake files.
foreach(dir unit model ops e2e cli tools fuzz boundaries)
  file(GLOB fragments ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/*.cmake)
  list(SORT fragments)
  foreach(fragment ${fragments})
    include(${fragment})
  endforeach()
endforeach()
