# SPDX-License-Identifier: Apache-2.0
# What the fuzzers (tests/fuzz/CMakeLists.txt, MNET_FUZZ=ON) and their regression tests (tests.cmake) share: the
# target list, the library each target exercises, and the seed-corpus builder. See docs/fuzzing.md.
# Included from both places when tests and fuzzers are built together: the variables are per folder, the
# targets global, hence the guard on the targets only.

set(MNET_FUZZ_TARGETS model tflite keras image onnx)
set(MNET_FUZZ_LIBS_model mnet_graph)
set(MNET_FUZZ_LIBS_tflite mnet_tflite)
set(MNET_FUZZ_LIBS_keras mnet_keras mnet_hdf5)  # the target checks no HDF5 object is left open
set(MNET_FUZZ_LIBS_image mnet_preprocess)
set(MNET_FUZZ_LIBS_onnx mnet_onnx)

if(TARGET mnet_fuzz_support)
  return()
endif()

# Input splitting and scratch files, for the targets.
add_library(mnet_fuzz_support STATIC ${CMAKE_CURRENT_LIST_DIR}/fuzz_support.cpp)
mnet_target(mnet_fuzz_support)
target_include_directories(mnet_fuzz_support PUBLIC ${CMAKE_CURRENT_LIST_DIR})

# The seed corpora: the real models go through the importers.
add_library(mnet_fuzz_seeds STATIC ${CMAKE_CURRENT_LIST_DIR}/seeds.cpp ${CMAKE_CURRENT_LIST_DIR}/seeds_tflite.cpp
                                   ${CMAKE_CURRENT_LIST_DIR}/seeds_keras.cpp ${CMAKE_CURRENT_LIST_DIR}/seeds_image.cpp
                                   ${CMAKE_CURRENT_LIST_DIR}/seeds_onnx.cpp)
target_compile_definitions(mnet_fuzz_seeds PRIVATE MNET_ONNX_FIXTURES="${PROJECT_SOURCE_DIR}/tests/data/onnx"
                                                  MNET_ZOO_FIXTURES="${PROJECT_SOURCE_DIR}/tests/data/zoo")
mnet_target(mnet_fuzz_seeds)
target_link_libraries(mnet_fuzz_seeds PUBLIC mnet_fuzz_support
                      PRIVATE mnet_tflite mnet_keras mnet_hdf5 mnet_onnx_proto nlohmann_json::nlohmann_json ${OpenCV_LIBS})
target_include_directories(mnet_fuzz_seeds SYSTEM PRIVATE ${OpenCV_INCLUDE_DIRS})

# Writes a target's seed corpus for libFuzzer; tools/fuzz.sh builds and runs it.
add_executable(mnet-fuzz-seeds EXCLUDE_FROM_ALL ${CMAKE_CURRENT_LIST_DIR}/seeds_main.cpp)
mnet_target(mnet-fuzz-seeds)
target_link_libraries(mnet-fuzz-seeds PRIVATE mnet_fuzz_seeds)
set_target_properties(mnet-fuzz-seeds PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/fuzz)
