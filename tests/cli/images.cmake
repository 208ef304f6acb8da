# SPDX-License-Identifier: Apache-2.0
# The bad-input image suite through the mnet command (issue 7), on files from tests/unit/image_fixtures.cpp.
mnet_cli_test(test_cli_images
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_images.cpp
  LIBS mnet_image_fixtures)
