# SPDX-License-Identifier: MIT
# packaging.cmake — .deb packages with CPack (make package):
#   libweft0     the shared library (component runtime)
#   libweft-dev  headers, static library, pkg-config and CMake files, man
#                pages and HTML manual (component dev); depends on the
#                libweft0 of the same version.
# and, where weft-mpi is built (an MPI was found: cmake/mpi.cmake):
#   libweft-mpi0    its shared library (component mpiruntime)
#   libweft-mpi-dev its header, static library, pkg-config and CMake files
#                   (component mpidev)
# Configure with -DCMAKE_INSTALL_PREFIX=/usr (the Makefile does) so that the
# library goes to Debian's multiarch directory.
set(CPACK_PACKAGE_NAME weft)
set(CPACK_PACKAGE_VENDOR "the weft authors")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${WEFT_PACKAGE_MAINTAINER}")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR DEB)
set(CPACK_SOURCE_GENERATOR "")

set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_COMPONENT_DEV_DEPENDS runtime)
if(WEFT_HAVE_MPI)
    list(APPEND CPACK_COMPONENTS_ALL mpiruntime mpidev)
    set(CPACK_COMPONENT_MPIRUNTIME_DEPENDS runtime)
    set(CPACK_COMPONENT_MPIDEV_DEPENDS mpiruntime dev)
endif()
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)

# What both packages' descriptions say after their summary line.
set(weft_about "weft gives C programs Python's threading module (threads, thread-local
data, locks, semaphores, events, conditions, barriers, timers), the queue
module, concurrent.futures with a thread pool and a process pool, and
multiprocessing.Process, with Python's names and semantics.
.")

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libweft${PROJECT_VERSION_MAJOR})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)      # Depends: libc6 (>= ...)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
# Each description's first line is the package's one-line summary.
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
    "Python's concurrency toolkit for C - shared library
${weft_about}
This package holds the shared library.  weft is under the MIT license.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libweft-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libc6-dev | libc-dev")
set(CPACK_COMPONENT_DEV_DESCRIPTION
    "Python's concurrency toolkit for C - development files
${weft_about}
This package holds the headers, the static library, the pkg-config file
(pkg-config weft), the CMake package (find_package(weft)), and the
reference manual: man pages (man weft_lock_acquire) and HTML.  weft is
under the MIT license.")

if(WEFT_HAVE_MPI)
    # Written out: dpkg-shlibdeps cannot tell which package holds the
    # libweft.so.0 built beside it.  The MPI library's package is asked of
    # dpkg (its name changes between releases: libopenmpi3 on Debian 12).
    set(weft_mpi_package libopenmpi3)
    find_program(WEFT_DPKG_QUERY dpkg-query)
    list(GET MPI_C_LIBRARIES 0 weft_libmpi)
    if(WEFT_DPKG_QUERY AND weft_libmpi)
        get_filename_component(weft_libmpi "${weft_libmpi}" REALPATH)
        execute_process(COMMAND ${WEFT_DPKG_QUERY} -S "${weft_libmpi}"
                        OUTPUT_VARIABLE weft_owner RESULT_VARIABLE weft_rc ERROR_QUIET
                        OUTPUT_STRIP_TRAILING_WHITESPACE)
        if(weft_rc EQUAL 0 AND weft_owner MATCHES "^([^:, ]+)")
            set(weft_mpi_package "${CMAKE_MATCH_1}")
        endif()
    endif()
    set(CPACK_DEBIAN_MPIRUNTIME_PACKAGE_NAME libweft-mpi${PROJECT_VERSION_MAJOR})
    set(CPACK_DEBIAN_MPIRUNTIME_PACKAGE_SECTION libs)
    set(CPACK_DEBIAN_MPIRUNTIME_PACKAGE_SHLIBDEPS OFF)
    set(CPACK_DEBIAN_MPIRUNTIME_PACKAGE_DEPENDS "libc6, ${weft_mpi_package}")
    set(CPACK_COMPONENT_MPIRUNTIME_DESCRIPTION
        "Python's concurrency toolkit for C - the executor over MPI
${weft_about}
This package holds weft-mpi's shared library: the executor API over the
ranks of an MPI job (mpi4py.futures' MPIPoolExecutor).")
    set(CPACK_DEBIAN_MPIDEV_PACKAGE_NAME libweft-mpi-dev)
    set(CPACK_DEBIAN_MPIDEV_PACKAGE_SECTION libdevel)
    set(CPACK_DEBIAN_MPIDEV_PACKAGE_DEPENDS "libopenmpi-dev")
    set(CPACK_COMPONENT_MPIDEV_DESCRIPTION
        "Python's concurrency toolkit for C - the executor over MPI, development files
${weft_about}
This package holds weft-mpi's header (weft/mpi.h), static library,
pkg-config file (pkg-config weft-mpi) and CMake target (weft::weft-mpi).")
endif()

include(CPack)
