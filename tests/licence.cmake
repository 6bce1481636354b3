# SPDX-License-Identifier: MIT
# licence.cmake -DSOURCE_DIR=... — every source file of weft's carries the
# SPDX line of its licence in its first lines, and LICENSE exists.
if(NOT EXISTS "${SOURCE_DIR}/LICENSE")
    message(FATAL_ERROR "LICENSE is missing")
endif()
file(GLOB_RECURSE files RELATIVE "${SOURCE_DIR}"
    "${SOURCE_DIR}/src/*" "${SOURCE_DIR}/include/*" "${SOURCE_DIR}/tests/*"
    "${SOURCE_DIR}/examples/*" "${SOURCE_DIR}/bench/*" "${SOURCE_DIR}/cmake/*"
    "${SOURCE_DIR}/docs/*.py")
list(APPEND files CMakeLists.txt Makefile .ci/run)
set(missing "")
foreach(f IN LISTS files)
    if(NOT f MATCHES "(\\.(c|h|cpp|go|py|sh|cmake|in)|CMakeLists\\.txt|Makefile|\\.ci/run)$")
        continue()
    endif()
    file(STRINGS "${SOURCE_DIR}/${f}" head LIMIT_COUNT 3)
    if(NOT head MATCHES "SPDX-License-Identifier: MIT")
        list(APPEND missing "${f}")
    endif()
endforeach()
if(missing)
    list(JOIN missing "\n  " text)
    message(FATAL_ERROR "no SPDX-License-Identifier line in its first lines:\n  ${text}")
endif()
list(LENGTH files n)
message(STATUS "${n} files carry the SPDX line")
