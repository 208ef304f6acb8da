# SPDX-License-Identifier: Apache-2.0
# `mnet batch` and `mnet eval`, run as a user runs them: the built binary on real photos and a converted model.
mnet_cli_test(test_batch
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_batch.cpp ${CMAKE_CURRENT_LIST_DIR}/test_batch_eval.cpp)

mnet_cli_test(test_classify
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_classify.cpp)
