// One node's share of a checkpoint: the state partitions that node holds
// (partition executors, custom operator actors), written by the node itself
// into the checkpoint directory that every node shares. The coordinator's
// checkpoint is the manifest naming, for each (node, partition), the file
// holding it.
//
// File: state-<batch time ms>-<holder>.bin, framed (recovery/framed_file.hpp)
// around the Cereal encoding of PartitionStates.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

namespace trib {

// A state partition: (graph node id, partition index).
using PartitionKey = std::pair<int32_t, int32_t>;

// (graph node id, partition) -> the state's bytes.
using PartitionStates = std::map<PartitionKey, std::string>;

// "state-<batch_time>-<holder>.bin"; holder is e.g. "coordinator" or "worker-2".
std::string state_snapshot_name(int64_t batch_time_ms, const std::string& holder);

// The batch time in a state snapshot's file name, or -1 if it is not one.
int64_t state_snapshot_time(const std::string& file_name);

// Writes atomically and durably; throws std::runtime_error naming the path.
void write_state_snapshot(const std::string& path, const PartitionStates& states);

// Throws std::runtime_error naming the path if it is missing, truncated,
// corrupt or of another version.
PartitionStates read_state_snapshot(const std::string& path);

// Reads partitions out of the state snapshot files of one directory, each
// file once however many partitions are taken from it.
class StateSnapshotReader {
 public:
  explicit StateSnapshotReader(std::string dir) : dir_(std::move(dir)) {}

  // Partition `key` from `file` (a name in the directory); throws
  // std::runtime_error naming the file if it is broken or lacks the partition.
  const std::string& partition(const std::string& file, const PartitionKey& key);

 private:
  std::string dir_;
  std::map<std::string, PartitionStates> files_;
};

}  // namespace trib
