# SPDX-License-Identifier: MIT
# docs.cmake — the reference manual, from the headers' comments: man pages
# (section 3, a page or a link per public name) and HTML in WEFT_DOCS_DIR.
# Target `docs`, part of `all` when WEFT_BUILD_DOCS is on.  Any Doxygen
# warning fails it (WARN_AS_ERROR), and docs/doxygen-filter.py makes a
# public function without a comment one.
find_package(Doxygen 1.9 REQUIRED)
find_package(Python3 REQUIRED COMPONENTS Interpreter)

configure_file(${PROJECT_SOURCE_DIR}/docs/Doxyfile.in ${PROJECT_BINARY_DIR}/Doxyfile @ONLY)
file(GLOB_RECURSE WEFT_PUBLIC_HEADERS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/*.h)
set(WEFT_DOCS_STAMP ${WEFT_DOCS_DIR}/docs.stamp)
add_custom_command(OUTPUT ${WEFT_DOCS_STAMP}
    COMMAND ${CMAKE_COMMAND} -E rm -rf ${WEFT_DOCS_DIR}/html ${WEFT_DOCS_DIR}/man ${WEFT_DOCS_STAMP}
    COMMAND Doxygen::doxygen ${PROJECT_BINARY_DIR}/Doxyfile
    COMMAND Python3::Interpreter ${PROJECT_SOURCE_DIR}/docs/fix-man-pages.py ${WEFT_DOCS_DIR}/man/man3
    COMMAND ${CMAKE_COMMAND} -E touch ${WEFT_DOCS_STAMP}
    DEPENDS ${WEFT_PUBLIC_HEADERS} ${PROJECT_BINARY_DIR}/Doxyfile
            ${PROJECT_SOURCE_DIR}/docs/doxygen-filter.py ${PROJECT_SOURCE_DIR}/docs/fix-man-pages.py
    COMMENT "Reference manual: ${WEFT_DOCS_DIR}/man, ${WEFT_DOCS_DIR}/html"
    VERBATIM)
add_custom_target(docs ALL DEPENDS ${WEFT_DOCS_STAMP})

install(DIRECTORY ${WEFT_DOCS_DIR}/man/man3 DESTINATION ${CMAKE_INSTALL_MANDIR} COMPONENT dev)
install(DIRECTORY ${WEFT_DOCS_DIR}/html DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT dev)
