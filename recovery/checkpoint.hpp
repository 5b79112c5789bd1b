// Checkpoints: what a restarted job needs to carry on exactly where the
// last completed batch left it.
//
// One file per checkpoint, checkpoint-<batch time ms>.bin, written
// atomically (recovery/durable_file.hpp). Layout:
//   "TRIBCKPT" | format version (u32) | payload size (u64) | payload | FNV-1a 64 of payload
// The payload is the Cereal encoding of Checkpoint. A file that is
// truncated, corrupt or of an unknown version is reported and skipped in
// favour of the previous one; the newest `keep` files are kept.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace trib {

struct Checkpoint {
  std::string graph_fingerprint;  // refuses to restore into another pipeline
  int64_t batch_interval_ms = 0;
  int64_t zero_time_ms = 0;
  int64_t next_batch_index = 0;   // batches before this one are complete
  int64_t last_batch_time_ms = 0;
  // Per source node: where the next batch starts reading (opaque to the engine).
  std::map<int32_t, std::string> source_positions;
  // Per (node, partition): state held by partition executors / operator actors.
  std::map<std::pair<int32_t, int32_t>, std::string> partition_states;
  // Per node: state the coordinator keeps for it (window history).
  std::map<int32_t, std::string> node_states;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(graph_fingerprint, batch_interval_ms, zero_time_ms, next_batch_index,
       last_batch_time_ms, source_positions, partition_states, node_states);
  }
};

class CheckpointStore {
 public:
  static constexpr uint32_t kFormatVersion = 1;

  explicit CheckpointStore(std::string dir, int keep = 3);

  // Writes the checkpoint atomically, then deletes all but the newest `keep`.
  void save(const Checkpoint& cp);

  // The newest checkpoint that reads back intact; corrupt ones are logged
  // with their file name and skipped. Empty if there is none.
  std::optional<Checkpoint> load_latest() const;

  // Reads one file; throws std::runtime_error saying what is wrong with it.
  static Checkpoint read_file(const std::string& path);

  // checkpoint-*.bin files, newest first.
  std::vector<std::string> files() const;

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  int keep_;
};

}  // namespace trib
