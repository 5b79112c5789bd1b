// The frame every binary file Tributary writes for itself shares
// (checkpoints, per-node state snapshots):
//   magic (8 bytes) | format version (u32) | payload size (u64) | payload | checksum (u64)
// so a truncated, corrupt, foreign or too-new file is told apart from a good one.
// The checksum is XXH3 64 of the payload; files of the kind's `fnv_version`
// (written before the switch, same payload) carry FNV-1a 64 and still read.
#pragma once

#include <cstdint>
#include <string>

namespace trib {

struct FrameKind {
  const char* magic;  // exactly 8 characters
  uint32_t version;      // written, XXH3 checksum
  uint32_t fnv_version;  // also read: the same payload with an FNV-1a checksum; 0: none
  const char* noun;   // "checkpoint", "state snapshot": names the file in errors
};

std::string frame(const FrameKind& kind, const std::string& payload);

// The payload of `data` read from `path`; throws std::runtime_error saying
// what is wrong ("<noun> <path> is truncated", "... checksum mismatch", ...).
std::string unframe(const FrameKind& kind, const std::string& data, const std::string& path);

// Reads a whole file; throws std::runtime_error "cannot read <noun> <path>".
std::string read_framed_file(const FrameKind& kind, const std::string& path);

}  // namespace trib
