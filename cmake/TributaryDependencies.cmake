# What the Tributary library builds on, found the same way by the project's
# own build and by TributaryConfig.cmake for a project that installed it.
# Every one comes from Debian's packages (see dev.sh). The libraries without
# a usable CMake package of their own (CAF 0.17, hiredis, the header-only
# cereal and xxhash) become imported targets named Tributary::dep_*.
include(CMakeFindDependencyMacro)
find_dependency(Threads)
find_dependency(OpenSSL)
find_dependency(spdlog)
find_dependency(absl)
# The status page's HTTP server: libcpp-httplib-dev, a compiled library in
# Debian, found through pkg-config.
find_dependency(PkgConfig)
if(NOT TARGET PkgConfig::TRIBUTARY_HTTPLIB)
  pkg_check_modules(TRIBUTARY_HTTPLIB REQUIRED IMPORTED_TARGET GLOBAL cpp-httplib)
endif()

if(NOT TARGET Tributary::dep_caf)
  find_path(TRIBUTARY_CAF_INCLUDE_DIR caf/all.hpp)
  find_library(TRIBUTARY_CAF_CORE_LIBRARY caf_core)
  find_library(TRIBUTARY_CAF_IO_LIBRARY caf_io)
  find_library(TRIBUTARY_CAF_OPENSSL_LIBRARY caf_openssl)
  find_path(TRIBUTARY_CEREAL_INCLUDE_DIR cereal/cereal.hpp)
  find_path(TRIBUTARY_HIREDIS_INCLUDE_DIR hiredis/hiredis.h)
  find_library(TRIBUTARY_HIREDIS_LIBRARY hiredis)
  find_path(TRIBUTARY_XXHASH_INCLUDE_DIR xxhash.h)
  foreach(var TRIBUTARY_CAF_INCLUDE_DIR TRIBUTARY_CAF_CORE_LIBRARY TRIBUTARY_CAF_IO_LIBRARY
      TRIBUTARY_CAF_OPENSSL_LIBRARY TRIBUTARY_CEREAL_INCLUDE_DIR TRIBUTARY_HIREDIS_INCLUDE_DIR
      TRIBUTARY_HIREDIS_LIBRARY TRIBUTARY_XXHASH_INCLUDE_DIR)
    if(NOT ${var})
      set(msg "Tributary needs ${var}: install libcaf-dev libcaf-openssl0.17 libcereal-dev libhiredis-dev libxxhash-dev")
      if(DEFINED Tributary_FOUND)  # inside find_package(Tributary)
        set(Tributary_FOUND FALSE)
        set(Tributary_NOT_FOUND_MESSAGE "${msg}")
        return()
      endif()
      message(FATAL_ERROR "${msg}")
    endif()
  endforeach()

  # CAF 0.17: the actor runtime, its network layer and its TLS module.
  add_library(Tributary::dep_caf INTERFACE IMPORTED GLOBAL)
  set_target_properties(Tributary::dep_caf PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${TRIBUTARY_CAF_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${TRIBUTARY_CAF_OPENSSL_LIBRARY};${TRIBUTARY_CAF_IO_LIBRARY};${TRIBUTARY_CAF_CORE_LIBRARY};OpenSSL::SSL;OpenSSL::Crypto;Threads::Threads")
  add_library(Tributary::dep_hiredis INTERFACE IMPORTED GLOBAL)
  set_target_properties(Tributary::dep_hiredis PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${TRIBUTARY_HIREDIS_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${TRIBUTARY_HIREDIS_LIBRARY}")
  # Header-only (xxhash is used with XXH_INLINE_ALL: nothing to link).
  add_library(Tributary::dep_headers INTERFACE IMPORTED GLOBAL)
  set_target_properties(Tributary::dep_headers PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${TRIBUTARY_CEREAL_INCLUDE_DIR};${TRIBUTARY_XXHASH_INCLUDE_DIR}")
endif()
