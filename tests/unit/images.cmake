# SPDX-License-Identifier: Apache-2.0
# Unusual and hostile image files (issue 7). image_fixtures.cpp builds them at run time, CMYK JPEGs with libjpeg
# (Debian's libjpeg-dev, which libopencv-dev and libhdf5-dev already pull in); tests/cli uses the same fixtures.
find_package(JPEG REQUIRED)
add_library(mnet_image_fixtures STATIC ${CMAKE_CURRENT_LIST_DIR}/image_fixtures.cpp)
mnet_target(mnet_image_fixtures)
target_include_directories(mnet_image_fixtures PUBLIC ${CMAKE_CURRENT_LIST_DIR}/..)
target_include_directories(mnet_image_fixtures SYSTEM PUBLIC ${OpenCV_INCLUDE_DIRS})
target_link_libraries(mnet_image_fixtures PUBLIC ${OpenCV_LIBS} PRIVATE JPEG::JPEG)

mnet_test(test_images SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_image_formats.cpp ${CMAKE_CURRENT_LIST_DIR}/test_jpeg_decode.cpp
                               ${CMAKE_CURRENT_LIST_DIR}/test_png_decode.cpp
          LIBS mnet_preprocess mnet_image_fixtures)
