// The frame every binary file Tributary writes for itself shares
// (checkpoints, per-node state snapshots):
//   magic (8 bytes) | format version (u32) | payload size (u64) | payload | FNV-1a 64 of payload
// so a truncated, corrupt, foreign or too-new file is told apart from a good one.
#pragma once

#include <cstdint>
#include <string>

namespace trib {

struct FrameKind {
  const char* magic;  // exactly 8 characters
  uint32_t version;
  const char* noun;   // "checkpoint", "state snapshot": names the file in errors
};

std::string frame(const FrameKind& kind, const std::string& payload);

// The payload of `data` read from `path`; throws std::runtime_error saying
// what is wrong ("<noun> <path> is truncated", "... checksum mismatch", ...).
std::string unframe(const FrameKind& kind, const std::string& data, const std::string& path);

// Reads a whole file; throws std::runtime_error "cannot read <noun> <path>".
std::string read_framed_file(const FrameKind& kind, const std::string& path);

}  // namespace trib
