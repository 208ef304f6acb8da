# SPDX-License-Identifier: Apache-2.0
# The generated TFLite model zoo (tests/data/zoo, tools/zoo/generate.py) against LiteRT's recorded outputs, and
# the zoo's Keras files against Keras's.
if(TARGET mnet_tflite AND TARGET mnet_keras)
  mnet_test(test_zoo
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_zoo.cpp ${CMAKE_CURRENT_LIST_DIR}/test_zoo_keras.cpp
            ${CMAKE_CURRENT_LIST_DIR}/zoo_fixtures.cpp
    LIBS mnet_tflite mnet_keras mnet_runtime nlohmann_json::nlohmann_json)
endif()
