# SPDX-License-Identifier: Apache-2.0
# `cmake --install build --prefix P`: libmnet.a, the public headers (include/mnet), the CMake package (mnet::mnet
# via find_package(mnet)), the pkg-config file mnet.pc, and the programs that were built.
include(CMakePackageConfigHelpers)

set(MNET_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/mnet)
install(TARGETS mnet_library EXPORT mnetTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/mnet DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT mnetTargets NAMESPACE mnet:: DESTINATION ${MNET_CMAKE_DIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/mnetConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/mnetConfig.cmake INSTALL_DESTINATION ${MNET_CMAKE_DIR})
# 0.x: a minor version may break the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/mnetConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/mnetConfig.cmake ${PROJECT_BINARY_DIR}/mnetConfigVersion.cmake
        DESTINATION ${MNET_CMAKE_DIR})

file(RELATIVE_PATH MNET_PC_PREFIX_FROM_PCDIR /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
configure_file(${CMAKE_CURRENT_LIST_DIR}/mnet.pc.in ${PROJECT_BINARY_DIR}/mnet.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/mnet.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
