// FNV-1a 64: the checksum of checkpoints and write-ahead log entries, and
// the hash behind graph fingerprints. Fast and stable across builds; it
// detects torn and corrupted writes, not tampering.
#pragma once

#include <cstdint>
#include <string>

namespace trib {

inline uint64_t fnv1a64(const std::string& data) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace trib
