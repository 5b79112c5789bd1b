// Checkpoints: what a restarted job needs to carry on exactly where the
// last completed batch left it.
//
// One file per checkpoint, checkpoint-<batch time ms>.bin, written
// atomically (recovery/durable_file.hpp) in the "TRIBCKPT" frame
// (recovery/framed_file.hpp) around the Cereal encoding of Checkpoint.
// Partition state is not inside it: each node writes the partitions it
// holds to a state snapshot file of its own (recovery/state_snapshot.hpp)
// and the checkpoint names those files, a manifest. A checkpoint that is
// truncated, corrupt or of an unknown version, or one whose state files
// are, is reported and skipped in favour of the previous one; the newest
// `keep` checkpoints (and the state files they name) are kept.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "recovery/state_snapshot.hpp"

namespace trib {

struct Checkpoint {
  std::string graph_fingerprint;  // refuses to restore into another pipeline
  int64_t batch_interval_ms = 0;
  int64_t zero_time_ms = 0;
  int64_t next_batch_index = 0;   // batches before this one are complete
  int64_t last_batch_time_ms = 0;
  // Per source node: where the next batch starts reading (opaque to the engine).
  std::map<int32_t, std::string> source_positions;
  // The manifest: per (node, partition), the state snapshot file (a name in
  // the checkpoint directory) written by the node that held the partition.
  std::map<PartitionKey, std::string> state_files;
  // Not stored: the partitions' bytes, read from state_files by load_latest().
  std::map<PartitionKey, std::string> partition_states;
  // Per node: state the coordinator keeps for it (window history).
  std::map<int32_t, std::string> node_states;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(graph_fingerprint, batch_interval_ms, zero_time_ms, next_batch_index,
       last_batch_time_ms, source_positions, state_files, node_states);
  }
};

// Where the write-ahead log of receiver stream `source` replays from when
// `cp` is restored: its first record no checkpointed batch holds.
int64_t replay_position(const Checkpoint& cp, int32_t source);

class CheckpointStore {
 public:
  static constexpr uint32_t kFormatVersion = 3;  // 3: XXH3 checksum (2: FNV-1a, still read)

  explicit CheckpointStore(std::string dir, int keep = 3);

  // Writes the checkpoint atomically (its state files must be written
  // already), then deletes all but the newest `keep` and the state files
  // only older checkpoints named.
  void save(const Checkpoint& cp);

  // The newest checkpoint that reads back intact, its state files too, with
  // partition_states filled in; broken ones are logged with the file name at
  // fault and skipped. Empty if there is none. `unreadable`, if given,
  // receives one line per checkpoint skipped, naming its file and why: a
  // directory that holds checkpoints but none readable is not a new job.
  std::optional<Checkpoint> load_latest(std::vector<std::string>* unreadable = nullptr) const;

  // Reads one checkpoint file (not its state files); throws
  // std::runtime_error saying what is wrong with it.
  static Checkpoint read_file(const std::string& path);

  // Fills cp.partition_states from the state files it names; throws
  // std::runtime_error naming a file that is missing or broken.
  void load_states(Checkpoint& cp) const;

  // The source positions of the oldest kept checkpoint that reads back: a
  // restart may fall back to it, so input from there on must stay
  // replayable (write-ahead logs, upstream acknowledgements). Empty if none.
  std::map<int32_t, std::string> oldest_positions() const;
  // The batch time of that checkpoint (none if none reads back): batches at
  // or before it are formed again by no restart.
  std::optional<int64_t> oldest_batch_time() const;

  // checkpoint-*.bin files, newest first.
  std::vector<std::string> files() const;

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  int keep_;
};

}  // namespace trib
