# SPDX-License-Identifier: MIT
# weft-mpi: the executor over MPI (include/weft/mpi.h, src/mpi/), an
# optional library of its own so that libweft keeps to libc and pthreads.
# Built when an MPI for C is found (Debian: openmpi-bin libopenmpi-dev);
# WEFT_MPI=OFF leaves it out.
option(WEFT_MPI "Build weft-mpi, the executor over MPI, when MPI is found" ON)
set(WEFT_HAVE_MPI OFF)
if(WEFT_MPI)
    find_package(MPI COMPONENTS C QUIET)
    if(MPI_C_FOUND)
        set(WEFT_HAVE_MPI ON)
    else()
        message(STATUS "weft: no MPI found (openmpi-bin libopenmpi-dev); weft-mpi is not built")
    endif()
endif()

if(WEFT_HAVE_MPI)
    set(WEFT_MPI_SOURCES src/mpi/mpi_client.c src/mpi/mpi_pool.c src/mpi/mpi_progress.c
                         src/mpi/mpi_registry.c
                         src/mpi/mpi_serve.c src/mpi/mpi_start.c src/mpi/mpi_wire.c)
    add_library(weft_mpi_objects OBJECT ${WEFT_MPI_SOURCES})
    set_target_properties(weft_mpi_objects PROPERTIES POSITION_INDEPENDENT_CODE ON
                                                      C_VISIBILITY_PRESET hidden
                                                      VISIBILITY_INLINES_HIDDEN ON)
    target_compile_definitions(weft_mpi_objects PRIVATE WEFT_BUILDING_LIBRARY)
    target_include_directories(weft_mpi_objects
        PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
        PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src ${CMAKE_CURRENT_SOURCE_DIR}/src/mpi)
    target_compile_options(weft_mpi_objects PRIVATE ${WEFT_WARNINGS})
    target_link_libraries(weft_mpi_objects PUBLIC MPI::MPI_C Threads::Threads)

    add_library(weft-mpi SHARED $<TARGET_OBJECTS:weft_mpi_objects>)
    add_library(weft-mpi_static STATIC $<TARGET_OBJECTS:weft_mpi_objects>)
    set_target_properties(weft-mpi PROPERTIES VERSION ${PROJECT_VERSION}
                                              SOVERSION ${PROJECT_VERSION_MAJOR})
    set_target_properties(weft-mpi_static PROPERTIES OUTPUT_NAME weft-mpi
                                                     EXPORT_NAME weft-mpi_static)
    target_link_libraries(weft-mpi PUBLIC weft MPI::MPI_C)
    target_link_libraries(weft-mpi_static PUBLIC weft_static MPI::MPI_C)
    foreach(lib weft-mpi weft-mpi_static)
        target_include_directories(${lib} PUBLIC
            $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
            $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
    endforeach()
    add_library(weft::weft-mpi ALIAS weft-mpi)
    add_library(weft::weft-mpi_static ALIAS weft-mpi_static)

    # Two components, packaged as libweft-mpi0 (mpiruntime: the shared
    # library) and libweft-mpi-dev (mpidev: all the rest).
    install(FILES include/weft/mpi.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/weft COMPONENT mpidev)
    install(TARGETS weft-mpi weft-mpi_static EXPORT weftMpiTargets
            ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT mpidev
            LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT mpiruntime
                    NAMELINK_COMPONENT mpidev
            RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT mpiruntime)
    install(EXPORT weftMpiTargets NAMESPACE weft:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/weft
            COMPONENT mpidev)
    list(JOIN MPI_C_LIBRARIES " " weft_mpi_libs)
    install(CODE "set(WEFT_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
        set(WEFT_MPI_LIBS \"${weft_mpi_libs}\")
        set(CMAKE_INSTALL_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
        set(CMAKE_INSTALL_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
        set(PROJECT_VERSION \"${PROJECT_VERSION}\")
        configure_file(\"${CMAKE_CURRENT_SOURCE_DIR}/cmake/weft-mpi.pc.in\"
                       \"${CMAKE_CURRENT_BINARY_DIR}/weft-mpi.pc\" @ONLY)" COMPONENT mpidev)
    install(FILES ${CMAKE_CURRENT_BINARY_DIR}/weft-mpi.pc
            DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT mpidev)
endif()
