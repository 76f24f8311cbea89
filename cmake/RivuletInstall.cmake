# `make install` / `cmake --install build`: the rivulet binary (cli/), every
# library made with rivulet_library() (exported as Rivulet::<folder>, e.g.
# Rivulet::runtime, Rivulet::actors), their headers under include/rivulet/,
# and a CMake package so that C++ API users write
#   find_package(Rivulet 0.1 REQUIRED)
#   target_link_libraries(app PRIVATE Rivulet::actors)
# Included at the end of the top-level CMakeLists.txt, once every library
# exists.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(RIVULET_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/Rivulet")
get_property(_rivulet_libraries GLOBAL PROPERTY RIVULET_LIBRARIES)
foreach(_lib IN LISTS _rivulet_libraries)
  string(REGEX REPLACE "^rivulet_" "" _short "${_lib}")
  set_target_properties(${_lib} PROPERTIES EXPORT_NAME ${_short})
  # Headers, keeping the folder: #include "runtime/value.hpp" works installed too.
  get_target_property(_dir ${_lib} SOURCE_DIR)
  file(RELATIVE_PATH _folder "${PROJECT_SOURCE_DIR}" "${_dir}")
  install(DIRECTORY "${_dir}/" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/rivulet/${_folder}"
          FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h")
endforeach()
install(TARGETS ${_rivulet_libraries} EXPORT RivuletTargets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}")
install(EXPORT RivuletTargets NAMESPACE Rivulet:: DESTINATION "${RIVULET_CMAKE_DIR}")

configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/RivuletConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/RivuletConfig.cmake" INSTALL_DESTINATION "${RIVULET_CMAKE_DIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/RivuletConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/RivuletConfig.cmake"
              "${PROJECT_BINARY_DIR}/RivuletConfigVersion.cmake"
              "${PROJECT_SOURCE_DIR}/cmake/FindCAF.cmake"
        DESTINATION "${RIVULET_CMAKE_DIR}")
