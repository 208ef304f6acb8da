# SPDX-License-Identifier: Apache-2.0
# mnet quantize (issue 6): calibrate a converted Keras model on the shared photos, then classify it in int8.
mnet_cli_test(test_quantize
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_quantize.cpp)
