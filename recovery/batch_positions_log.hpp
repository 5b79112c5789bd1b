// The batch positions log (Spark's BatchAllocationEvent in the
// ReceivedBlockTracker's log, or the offset ranges the direct Kafka stream
// checkpoints per batch): for every batch formed with a source that can
// replay an exact range (SourceNode::exact_replay()), where each such source
// started and ended, written durably BEFORE the batch's tasks run, so none of
// its output can be published before the record is on disk. After a restart
// from an older checkpoint, the batches after it that this log holds are
// formed again from exactly the logged ranges (SourceNode::poll_until), so a
// recomputed batch reads the same entries as the first time.
//
// One file, batch-positions.log in the checkpoint directory: the 8 bytes
// "TRIBBPL1", then entries
//   payload size (u32) | XXH3 64 of payload (u64) |
//   low 32 bits of XXH3 64 of the 12 bytes before (u32) | payload
// payload: batch time (i64), sources (u32), per source: node id (i32),
// start size (u32), start, end size (u32), end.
// A torn last entry (a crash mid-append: the file ends inside it) is
// dropped: its batch never ran, as the record comes first. Anything else
// wrong (bad magic, a corrupt header or payload) is an error naming the
// file and the byte offset. Entries that no kept checkpoint needs (batch time
// at or before the oldest kept checkpoint's) are dropped by rewriting the
// file atomically.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace trib {

struct BatchPositions {
  int64_t batch_time_ms = 0;
  // Per source node: (position before the batch, position after it).
  std::map<int32_t, std::pair<std::string, std::string>> sources;

  bool operator==(const BatchPositions& o) const {
    return batch_time_ms == o.batch_time_ms && sources == o.sources;
  }
};

class BatchPositionsLog {
 public:
  static std::string path_in(const std::string& dir);

  // Opens (or creates) the log in `dir`; a torn last entry is cut off so
  // new entries follow the last good one. Throws if the log is corrupt.
  explicit BatchPositionsLog(std::string dir);
  ~BatchPositionsLog();
  BatchPositionsLog(const BatchPositionsLog&) = delete;
  BatchPositionsLog& operator=(const BatchPositionsLog&) = delete;

  // Appends one entry and fsyncs it; throws std::runtime_error naming the file.
  void append(const BatchPositions& batch);

  // Drops the entries of batches at or before `time` (rewrites the file
  // atomically); throws std::runtime_error naming the file.
  void drop_through(int64_t time);

  // Every entry, in order; a torn last entry is left out (and logged). A
  // missing file reads as empty. Throws std::runtime_error naming the file
  // and byte offset for anything else that is wrong.
  static std::vector<BatchPositions> read(const std::string& dir);

  // Deletes the log in `dir` (a new job starts).
  static void discard(const std::string& dir);

  const std::string& path() const { return path_; }

 private:
  void open_for_append();

  std::string dir_;
  std::string path_;
  int fd_ = -1;
};

}  // namespace trib
