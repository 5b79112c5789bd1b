# CTest: the library as a user adopts it. Installs the build into a fresh
# prefix, configures and builds examples/ against it through
# find_package(Tributary), runs examples/sensor_average on generated
# readings and compares its per-sensor counts and sums with a plain count
# done here (integer arithmetic, repeats dropped by id).
#   cmake -DSOURCE_DIR=... -DBUILD_DIR=... -DWORK_DIR=... -DCXX=... [-DLAUNCHER=ccache] -P this
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "failed (${code}): ${ARGN}\n${out}\n${err}")
  endif()
  set(run_out "${out}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(f include/tributary/dstream/streaming_context.hpp include/tributary/version.hpp
    lib/libtributary.a lib/cmake/Tributary/TributaryConfig.cmake share/doc/tributary/LICENSE)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "cmake --install did not install ${f}")
  endif()
endforeach()

set(configure ${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples -B ${WORK_DIR}/build
  -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_CXX_COMPILER=${CXX})
if(LAUNCHER)
  list(APPEND configure -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
endif()
if(BUILD_TYPE)
  list(APPEND configure -DCMAKE_BUILD_TYPE=${BUILD_TYPE})
endif()
run(${configure})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)

# Readings: id,sensor,centidegrees; every 5th reading is delivered twice.
set(lines "")
foreach(s RANGE 4)
  set(count_${s} 0)
  set(sum_${s} 0)
endforeach()
foreach(i RANGE 1499)
  math(EXPR s "${i} % 5")
  math(EXPR centi "1000 + (${i} * 37) % 2000 + ${s} * 150 - 700")
  set(line "r${i},sensor-${s},${centi}")
  string(APPEND lines "${line}\n")
  math(EXPR count_${s} "${count_${s}} + 1")
  math(EXPR sum_${s} "${sum_${s}} + ${centi}")
  math(EXPR again "${i} % 5")
  if(again EQUAL 0)
    string(APPEND lines "${line}\n")
  endif()
endforeach()
file(WRITE ${WORK_DIR}/readings.txt "${lines}")

run(${WORK_DIR}/build/sensor_average ${WORK_DIR}/readings.txt 97)
set(expected "")
foreach(s RANGE 4)
  string(APPEND expected "sensor-${s} readings ${count_${s}} sum ${sum_${s}};")
endforeach()
string(REGEX REPLACE " average [^\n]*\n" ";" got "${run_out}")
if(NOT got STREQUAL expected)
  message(FATAL_ERROR "examples/sensor_average printed\n${run_out}\nexpected (counts and sums)\n${expected}")
endif()
message(STATUS "installed library: examples built with find_package(Tributary); output matches a plain count")
