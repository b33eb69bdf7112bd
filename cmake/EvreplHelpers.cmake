# evrepl_protoc_c(OUT_VAR PROTO_ROOT proto...): generate .pb-c.[ch] into the build tree,
# one add_custom_command per .proto. OUT_VAR receives the generated .c files.
function(evrepl_protoc_c out_var proto_root)
  set(generated)
  foreach(proto IN LISTS ARGN)
    get_filename_component(abs ${proto} ABSOLUTE BASE_DIR ${proto_root})
    file(RELATIVE_PATH rel ${proto_root} ${abs})
    string(REGEX REPLACE "\\.proto$" "" stem ${rel})
    set(c_out ${CMAKE_CURRENT_BINARY_DIR}/gen/${stem}.pb-c.c)
    set(h_out ${CMAKE_CURRENT_BINARY_DIR}/gen/${stem}.pb-c.h)
    add_custom_command(
      OUTPUT ${c_out} ${h_out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/gen
      COMMAND ${PROTOC_C} --c_out=${CMAKE_CURRENT_BINARY_DIR}/gen -I${proto_root}
              -I/usr/include ${abs}
      DEPENDS ${abs}
      COMMENT "protoc-c ${rel}"
      VERBATIM)
    list(APPEND generated ${c_out})
  endforeach()
  set(${out_var} ${generated} PARENT_SCOPE)
endfunction()

# evrepl_add_test(NAME SOURCES... LIBS... LABELS... TIMEOUT s): one cmocka executable per
# module, registered with ctest under its labels.
function(evrepl_add_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS;ARGS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${T_LIBS} evrepl_test_support PkgConfig::CMOCKA
                        evrepl_flags)
  add_test(NAME ${name} COMMAND ${name} ${T_ARGS})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "EVREPL_BIN_DIR=${CMAKE_BINARY_DIR}/bin;EVREPL_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endfunction()
