// The one way values become Cereal binary bytes and back (partitions, state
// partitions, window history, checkpoints, snapshots, log entries).
#pragma once

#include <sstream>
#include <string>

#include <cereal/archives/binary.hpp>

namespace trib {

template <class... T>
std::string to_cereal_bytes(const T&... values) {
  std::ostringstream out;
  {
    cereal::BinaryOutputArchive archive(out);  // flushes when it goes
    archive(values...);
  }
  return std::move(out).str();
}

// Reads `values` back in the order they were written; throws
// cereal::Exception if the bytes end early or do not decode.
template <class... T>
void from_cereal_bytes(const std::string& bytes, T&... values) {
  std::istringstream in(bytes);
  cereal::BinaryInputArchive archive(in);
  archive(values...);
}

}  // namespace trib
