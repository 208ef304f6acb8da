# SPDX-License-Identifier: Apache-2.0
# The corrupt-model suite (issue 7): hostile manifests and weights files, generated from a real converted MobileNet
# (converted here by mnet-convert, as the e2e tests do) and from small ModelWriter models. Every case must end in
# a clean mnet::Error or, where the change leaves a valid model, in a Session that runs.
mnet_test(test_model_corrupt
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/corrupt_support.cpp
    ${CMAKE_CURRENT_LIST_DIR}/test_corrupt_weights.cpp
    ${CMAKE_CURRENT_LIST_DIR}/test_corrupt_manifest.cpp
    ${CMAKE_CURRENT_LIST_DIR}/test_corrupt_fields.cpp
    ${CMAKE_CURRENT_LIST_DIR}/test_corrupt_values.cpp
    ${CMAKE_CURRENT_LIST_DIR}/test_corrupt_graph.cpp
    ${CMAKE_CURRENT_LIST_DIR}/test_corrupt_flips.cpp
    ${CMAKE_CURRENT_LIST_DIR}/test_weights_checksum.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/e2e/shared_models.cpp
  LIBS mnet_runtime nlohmann_json::nlohmann_json)
target_compile_definitions(test_model_corrupt PRIVATE MNET_CONVERT_PATH="$<TARGET_FILE:mnet-convert>")
add_dependencies(test_model_corrupt mnet-convert)
