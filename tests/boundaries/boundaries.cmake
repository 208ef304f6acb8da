# SPDX-License-Identifier: Apache-2.0
# The boundaries CMake enforces (issue 15): a user of the library target sees include/mnet and nothing else, and
# oneDNN is included only in src/ops. The two consumers are built by the test, not by `all`.
foreach(kind public internal)
  add_executable(mnet_consumer_${kind} EXCLUDE_FROM_ALL ${CMAKE_CURRENT_LIST_DIR}/consumer_${kind}.cpp)
  target_link_libraries(mnet_consumer_${kind} PRIVATE mnet::mnet)
endforeach()
add_test(NAME library_boundaries
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/check_boundaries.sh ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR})
