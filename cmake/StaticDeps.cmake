# REKALL_STATIC_DEPS: the static archives Debian ships in the same -dev
# packages replace the shared libraries behind the pkg-config targets, so the
# binary and the Python module need nothing beyond glibc at run time (checked
# with ldd by scripts/wheel_test.sh). Only the objects we call are linked: of
# OpenBLAS, sgemm and its threads (no Fortran LAPACK, so no libgfortran).

# rekall_static_archive(<pkg-config prefix> <archive name> <extra libs...>)
function(rekall_static_archive prefix archive)
  find_library(${prefix}_STATIC_ARCHIVE NAMES ${archive} HINTS ${${prefix}_LIBRARY_DIRS} REQUIRED NO_CACHE)
  set_target_properties(PkgConfig::${prefix} PROPERTIES
    INTERFACE_LINK_LIBRARIES "${${prefix}_STATIC_ARCHIVE};${ARGN}")
endfunction()

rekall_static_archive(OPENBLAS libopenblas.a Threads::Threads m)
rekall_static_archive(UTF8PROC libutf8proc.a)
rekall_static_archive(SQLITE3 libsqlite3.a Threads::Threads m ${CMAKE_DL_LIBS})
find_library(REKALL_ZLIB_STATIC_ARCHIVE NAMES libz.a REQUIRED NO_CACHE)
# The store's zlib (Rekall's context_blob) too: FindZLIB's target names the
# shared library, per configuration.
set_target_properties(ZLIB::ZLIB PROPERTIES IMPORTED_LOCATION "${REKALL_ZLIB_STATIC_ARCHIVE}"
  IMPORTED_LOCATION_RELEASE "${REKALL_ZLIB_STATIC_ARCHIVE}" IMPORTED_LOCATION_DEBUG "${REKALL_ZLIB_STATIC_ARCHIVE}")
rekall_static_archive(MINIZIP libminizip.a ${REKALL_ZLIB_STATIC_ARCHIVE})
rekall_static_archive(NETTLE libnettle.a)
# toml++ is a header-only library when asked; Debian ships no archive of it.
set_target_properties(PkgConfig::TOMLPP PROPERTIES
  INTERFACE_LINK_LIBRARIES ""
  INTERFACE_COMPILE_OPTIONS "-DTOML_HEADER_ONLY=1")

# The C++ runtime too (g++ 12's libstdc++ is newer than many distributions'),
# and none of the archives' symbols exported: the Python module must not
# clash with the SQLite or BLAS another module of the same process loaded.
add_link_options(-static-libstdc++ -static-libgcc -Wl,--exclude-libs,ALL)
