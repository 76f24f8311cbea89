# `cmake --install` of the build tree into a temporary prefix, then a tiny
# consumer project configured with find_package(Rivulet), built and run.
# Run by ctest (label integration) with -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=...
# and, for a sanitizer build, -DSANITIZE_FLAGS=-fsanitize=...
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

run("install" ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
foreach(f bin/rivulet include/rivulet/runtime/value.hpp include/rivulet/actors/application.hpp
          lib/cmake/Rivulet/RivuletConfig.cmake lib/cmake/Rivulet/RivuletConfigVersion.cmake
          lib/cmake/Rivulet/RivuletTargets.cmake)
  if(NOT EXISTS "${prefix}/${f}")
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()
set(consumer_flags "")
if(SANITIZE_FLAGS)  # the build under test is a sanitizer build (tests/install/CMakeLists.txt)
  set(consumer_flags "-DCMAKE_CXX_FLAGS=${SANITIZE_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${SANITIZE_FLAGS}")
endif()
run("configure the consumer" ${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/install/consumer"
    -B "${WORK_DIR}/consumer" -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release
    ${consumer_flags})
run("build the consumer" ${CMAKE_COMMAND} --build "${WORK_DIR}/consumer")
run("run the consumer" "${WORK_DIR}/consumer/consumer")
if(NOT last_output MATCHES "order_id=42")
  message(FATAL_ERROR "unexpected output from the consumer: ${last_output}")
endif()
run("installed rivulet --help" "${prefix}/bin/rivulet" --help)
file(REMOVE_RECURSE "${WORK_DIR}")
message(STATUS "installed into a temporary prefix; find_package(Rivulet) consumer built and ran")
