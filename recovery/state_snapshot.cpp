#include "recovery/state_snapshot.hpp"

#include <stdexcept>

#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/utility.hpp>

#include "dstream/core/cereal_bytes.hpp"
#include "recovery/durable_file.hpp"
#include "recovery/framed_file.hpp"

namespace trib {
namespace {

// Version 1 had the same payload under an FNV-1a checksum.
constexpr FrameKind kStateSnapshot{"TRIBSTAT", 2, 1, "state snapshot"};

}  // namespace

std::string state_snapshot_name(int64_t batch_time_ms, const std::string& holder) {
  return "state-" + std::to_string(batch_time_ms) + "-" + holder + ".bin";
}

int64_t state_snapshot_time(const std::string& name) {
  const std::string prefix = "state-", suffix = ".bin";
  if (name.rfind(prefix, 0) != 0 || name.size() < prefix.size() + suffix.size() ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return -1;
  auto dash = name.find('-', prefix.size());
  if (dash == std::string::npos) return -1;
  try {
    std::size_t used = 0;
    std::string digits = name.substr(prefix.size(), dash - prefix.size());
    int64_t t = std::stoll(digits, &used);
    return used == digits.size() ? t : -1;
  } catch (...) {
    return -1;
  }
}

void write_state_snapshot(const std::string& path, const PartitionStates& states) {
  write_file_durably(path, frame(kStateSnapshot, to_cereal_bytes(states)));
}

PartitionStates read_state_snapshot(const std::string& path) {
  std::string payload = read_framed_file(kStateSnapshot, path);
  PartitionStates states;
  try {
    from_cereal_bytes(payload, states);
  } catch (const std::exception& e) {
    throw std::runtime_error("state snapshot " + path + " cannot be decoded: " + e.what());
  }
  return states;
}

const std::string& StateSnapshotReader::partition(const std::string& file,
                                                  const PartitionKey& key) {
  auto it = files_.find(file);
  if (it == files_.end()) it = files_.emplace(file, read_state_snapshot(dir_ + "/" + file)).first;
  auto state = it->second.find(key);
  if (state == it->second.end())
    throw std::runtime_error("state snapshot " + dir_ + "/" + file + " lacks partition " +
                             std::to_string(key.second) + " of node " + std::to_string(key.first));
  return state->second;
}

}  // namespace trib
