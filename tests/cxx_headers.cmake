# SPDX-License-Identifier: MIT
# cxx_headers.cmake — the public headers are valid C++ and stay valid C11.
#
#   cmake -DSOURCE_DIR=<weft> -DWORK_DIR=<scratch> [-DCXX_COMPILERS=a;b]
#         [-DC_COMPILERS=a;b] -P cxx_headers.cmake
#
# Each public header alone, and weft.h with every macro expanded
# (cxx_headers_use.cpp), are compiled (syntax only) as C++11, 14, 17, 20 and
# 23 by each C++ compiler found (g++, clang++, and any given), with -Wall
# -Wextra -Wpedantic -Werror; each header alone also as C11 by each C
# compiler.  The C++ builds add -Wold-style-cast (many C++ projects build
# with it, and the macros expand in their code).  A missing compiler, or a
# standard it does not know, is skipped (and said so); any error fails.
cmake_minimum_required(VERSION 3.18)

set(flags -Wall -Wextra -Wpedantic -Werror -fsyntax-only -I${SOURCE_DIR}/include)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

# One translation unit per header, holding only its #include (and, in C, a
# declaration: ISO C forbids an empty unit, and weft/export.h declares only
# a macro).
file(GLOB headers RELATIVE ${SOURCE_DIR}/include
     ${SOURCE_DIR}/include/weft.h ${SOURCE_DIR}/include/weft/*.h)
set(cxx_units ${SOURCE_DIR}/tests/cxx_headers_use.cpp)
set(c_units)
foreach(h IN LISTS headers)
    string(MAKE_C_IDENTIFIER ${h} name)
    file(WRITE ${WORK_DIR}/${name}.cpp "#include \"${h}\"\n")
    file(WRITE ${WORK_DIR}/${name}.c "#include \"${h}\"\ntypedef int unit_not_empty_;\n")
    list(APPEND cxx_units ${WORK_DIR}/${name}.cpp)
    list(APPEND c_units ${WORK_DIR}/${name}.c)
endforeach()
file(WRITE ${WORK_DIR}/empty.cpp "int empty_unit_;\n")

# The compilers: the ones named, then g++ and clang++ from PATH; each once.
function(find_compilers out given)
    set(found)
    foreach(name IN LISTS given ARGN)
        find_program(path_${name} NAMES ${name})
        if(path_${name})
            get_filename_component(real ${path_${name}} REALPATH)
            if(NOT real IN_LIST seen)
                list(APPEND seen ${real})
                list(APPEND found ${path_${name}})
            endif()
        else()
            message(STATUS "skipped: no ${name}")
        endif()
    endforeach()
    set(${out} ${found} PARENT_SCOPE)
endfunction()
find_compilers(cxx_compilers "${CXX_COMPILERS}" g++ clang++)
find_compilers(c_compilers "${C_COMPILERS}" gcc clang)
if(NOT cxx_compilers)
    message(STATUS "no C++ compiler: nothing to check")
    return()
endif()

set(failed 0)
set(checked 0)

# Compile `units` with `compiler` and `std_flag`; count a failure.
macro(compile compiler std_flag units what)
    execute_process(COMMAND ${compiler} ${std_flag} ${flags} ${units}
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    if(rc EQUAL 0)
        math(EXPR checked "${checked} + 1")
        message(STATUS "ok: ${compiler} ${std_flag} (${what})")
    else()
        math(EXPR failed "${failed} + 1")
        message(STATUS "FAILED: ${compiler} ${std_flag} (${what})\n${out}")
    endif()
endmacro()

# Each standard by its name, then by the draft name older compilers know.
set(names_11 c++11)
set(names_14 c++14 c++1y)
set(names_17 c++17 c++1z)
set(names_20 c++20 c++2a)
set(names_23 c++23 c++2b)

foreach(cxx IN LISTS cxx_compilers)
    foreach(std 11 14 17 20 23)
        set(std_flag)
        foreach(name IN LISTS names_${std})
            execute_process(COMMAND ${cxx} -std=${name} -fsyntax-only ${WORK_DIR}/empty.cpp
                            RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
            if(rc EQUAL 0)
                set(std_flag -std=${name})
                break()
            endif()
        endforeach()
        if(std_flag)
            compile(${cxx} "${std_flag};-Wold-style-cast" "${cxx_units}"
                    "each header alone, weft.h's macros")
        else()
            message(STATUS "skipped: ${cxx} has no C++${std}")
        endif()
    endforeach()
endforeach()

foreach(cc IN LISTS c_compilers)
    compile(${cc} -std=c11 "${c_units}" "each header alone, as C11")
endforeach()

if(failed GREATER 0)
    message(FATAL_ERROR "${failed} header check(s) failed, ${checked} passed")
endif()
message(STATUS "header checks: ${checked} passed")
