# Slurm's headers and libslurm: Debian's (the default) or a site's own build, e.g. SchedMD's
# RPMs or /opt/slurm (SLURM_ROOT: a tree with include/slurm/ and lib/ or lib64/). The series
# comes from SLURM_VERSION_NUMBER in slurm/slurm_version.h, never from a package manager, and
# a series heteroscale is not built for is refused here, by name, before anything else is
# looked for: a SPANK plugin or libslurm client of another release would be rejected (or
# worse, misread) by that site's slurmd/slurmctld at run time.
set(SLURM_ROOT "" CACHE PATH "A site's Slurm install (include/ and lib/); empty: the system's")
set(HS_SLURM_SUPPORTED 22.05 23.02 23.11 24.05 24.11)
if(SLURM_ROOT)
  if(NOT IS_DIRECTORY "${SLURM_ROOT}")
    message(FATAL_ERROR "SLURM_ROOT=${SLURM_ROOT}: not a directory")
  endif()
  find_path(SLURM_INCLUDE_DIR slurm/slurm_version.h PATHS "${SLURM_ROOT}/include"
            NO_DEFAULT_PATH NO_CACHE)
  set(_where "under SLURM_ROOT=${SLURM_ROOT}")
else()
  find_path(SLURM_INCLUDE_DIR slurm/slurm_version.h NO_CACHE)
  set(_where "in the system's include path (install libslurm-dev, or set SLURM_ROOT)")
endif()
if(NOT SLURM_INCLUDE_DIR)
  message(FATAL_ERROR "slurm/slurm_version.h not found ${_where}")
endif()
cmake_path(NORMAL_PATH SLURM_INCLUDE_DIR)
string(REGEX REPLACE "/$" "" SLURM_INCLUDE_DIR "${SLURM_INCLUDE_DIR}")
set(_vh "${SLURM_INCLUDE_DIR}/slurm/slurm_version.h")
file(STRINGS "${_vh}" _line REGEX "^#[ \t]*define[ \t]+SLURM_VERSION_NUMBER[ \t]")
if(NOT _line MATCHES "0x([0-9a-fA-F][0-9a-fA-F])([0-9a-fA-F][0-9a-fA-F])([0-9a-fA-F][0-9a-fA-F])")
  message(FATAL_ERROR "${_vh}: no SLURM_VERSION_NUMBER 0xMMmmuu found")
endif()
set(_hex "0x${CMAKE_MATCH_1}${CMAKE_MATCH_2}${CMAKE_MATCH_3}")
math(EXPR _maj "0x${CMAKE_MATCH_1}")
math(EXPR _min "0x${CMAKE_MATCH_2}")
math(EXPR _mic "0x${CMAKE_MATCH_3}")
if(_min LESS 10)
  set(_min "0${_min}")  # Slurm's minor is two digits: 22.05
endif()
set(HS_SLURM_SERIES "${_maj}.${_min}")
set(HS_SLURM_VERSION "${_maj}.${_min}.${_mic}")
if(NOT HS_SLURM_SERIES IN_LIST HS_SLURM_SUPPORTED)
  string(REPLACE ";" ", " _list "${HS_SLURM_SUPPORTED}")
  message(FATAL_ERROR "Slurm ${HS_SLURM_VERSION} (SLURM_VERSION_NUMBER ${_hex} in ${_vh}) is "
                      "series ${HS_SLURM_SERIES}, which heteroscale does not support: it builds "
                      "against ${_list}")
endif()
if(SLURM_ROOT)
  find_library(SLURM_LIB slurm PATHS "${SLURM_ROOT}/lib" "${SLURM_ROOT}/lib64"
               "${SLURM_ROOT}/lib/x86_64-linux-gnu" NO_DEFAULT_PATH)
else()
  find_library(SLURM_LIB slurm)
endif()
if(NOT SLURM_LIB)
  message(FATAL_ERROR "libslurm not found ${_where}")
endif()
# From 23.11 on, slurm_init() loads the cred plugin (src/api/init.c, slurm-23-11-1-1 and later:
# cred_g_init()), and the cred plugins call libslurmfull's unprefixed internals
# (get_log_level, pack16, init_buf...) that libslurm.so does not export (it exports only
# slurm_*): a libslurm.so client dies at start with "cred_none.so: undefined symbol:
# get_log_level" (seen with Debian 13's 24.11.5 on the loopback cluster; cred_munge.so
# imports the same names). Slurm's own commands link libslurmfull.so, as pyslurm does from
# 23.11 (its setup.py: SLURM_LIB = "libslurmfull"), so the daemon links it too. It lives in the
# plugin directory (Debian: <libdir>/slurm-wlm; SchedMD's builds: <libdir>/slurm), off the
# loader's path: the binaries carry that directory as their RPATH.
if(HS_SLURM_SERIES VERSION_GREATER_EQUAL 23.11)
  get_filename_component(_libdir "${SLURM_LIB}" DIRECTORY)
  find_library(SLURM_FULL_LIB slurmfull PATHS "${_libdir}/slurm-wlm" "${_libdir}/slurm"
               NO_DEFAULT_PATH)
  if(NOT SLURM_FULL_LIB)
    message(FATAL_ERROR "Slurm ${HS_SLURM_VERSION}: libslurmfull.so not found in "
                        "${_libdir}/slurm-wlm or ${_libdir}/slurm; from 23.11 a client of "
                        "libslurm.so alone cannot load the cred plugin slurm_init() loads")
  endif()
  set(HS_SLURM_CLIENT_LIB "${SLURM_FULL_LIB}")
  # Build trees get the directory as RPATH from CMake already (a library outside the implicit
  # directories); installed binaries keep it too.
  set(CMAKE_INSTALL_RPATH_USE_LINK_PATH ON)
else()
  set(HS_SLURM_CLIENT_LIB "${SLURM_LIB}")
endif()
message(STATUS "Slurm ${HS_SLURM_VERSION} (series ${HS_SLURM_SERIES}): ${SLURM_INCLUDE_DIR}, "
               "${HS_SLURM_CLIENT_LIB}")
