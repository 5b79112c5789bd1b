// Checksums of the files Tributary writes for itself (checkpoints, state
// snapshots, write-ahead log entries): XXH3 64 (libxxhash), ~20x faster than
// the FNV-1a 64 earlier builds used. They detect torn and corrupted writes,
// not tampering.
//
// FNV-1a 64 stays for two things: reading files written before the switch
// (their format version says which checksum they carry), and graph
// fingerprints, which checkpoints store: changing that hash would make every
// existing checkpoint look like another pipeline's.
#pragma once

#include <cstdint>
#include <string_view>

// Header-only, as in hashing.hpp: nothing to link.
#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>

namespace trib {

inline uint64_t checksum64(std::string_view data) { return XXH3_64bits(data.data(), data.size()); }

inline uint64_t fnv1a64(std::string_view data) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace trib
