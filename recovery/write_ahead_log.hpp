// The write-ahead log of a receiver whose source cannot replay (a socket):
// every chunk of records is appended and fsynced before the receiver
// buffers it, so records accepted before a crash are still there after it.
//
// Records are numbered from 0 in arrival order; a position is such a number.
// The log is a series of segment files wal-<stream>-<first record>.log in the
// checkpoint directory; each starts with the 8 bytes "TRIBWAL2", then entries
//   payload size (u32) | records (u32) | XXH3 64 of payload (u64) |
//   low 32 bits of XXH3 64 of the 16 bytes before (u32) | Cereal vector<string>
// (A segment without the magic was written by an earlier build: the same
// entries with FNV-1a 64 in place of XXH3; it still reads.)
// A torn last entry (crash mid-append) is detected and ignored. A corrupt
// entry, or records missing between segments (one deleted or cut short), is
// an error naming the file, unless the reader accepts the loss: an entry's
// own checksummed header, or the next segment's name, says how many records
// are gone, so they are counted and the rest still reads. A segment that
// cannot be read at all (permissions, a directory in its place) is always an
// error. Segments whose records all lie before a checkpointed position are
// deleted.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dstream/core/text.hpp"

namespace trib {

// How a read treats corrupt entries holding records at or after the
// position read from (those before it are covered by a checkpoint).
struct WalLossPolicy {
  bool accept = false;  // false: throw std::runtime_error naming file and byte offset
  // Filled in when accepting: records skipped, and what was wrong where.
  int64_t lost = 0;
  std::vector<std::string> problems;
};

class WriteAheadLog {
 public:
  // Opens (or creates) the log of stream `stream` in `dir`. resume_at: the
  // position a restored checkpoint replays from; new records are numbered
  // from there at least.
  WriteAheadLog(std::string dir, int stream, int64_t resume_at = 0);
  ~WriteAheadLog();
  WriteAheadLog(const WriteAheadLog&) = delete;
  WriteAheadLog& operator=(const WriteAheadLog&) = delete;

  // Appends records durably; returns the position after them. Text and
  // std::string records are logged in the same format.
  int64_t append(const std::vector<std::string>& records);
  int64_t append(const std::vector<Text>& records);

  // Every record at or after `position`, in order. A corrupt entry throws
  // unless `loss` accepts it (and counts it).
  std::vector<std::string> read_from(int64_t position, WalLossPolicy* loss = nullptr) const {
    return read(dir_, stream_, position, loss);
  }
  // The same, from outside the process that writes the log (tests, tools).
  static std::vector<std::string> read(const std::string& dir, int stream, int64_t position,
                                       WalLossPolicy* loss = nullptr);

  // How many records the log of stream `stream` in `dir` holds.
  static int64_t records_in(const std::string& dir, int stream);

  // Deletes segments holding only records before `position`.
  void truncate_before(int64_t position);

  int64_t end() const { return end_; }

  // Deletes the whole log of stream `stream` in `dir` (a new job starts).
  static void discard(const std::string& dir, int stream);

 private:
  struct Segment {
    int64_t first;
    std::string path;
  };
  static std::vector<Segment> segments(const std::string& dir, int stream);
  std::vector<Segment> segments() const { return segments(dir_, stream_); }
  void start_segment();
  int64_t append_payload(const std::string& payload, std::size_t records);
  template <class Records>
  int64_t append_records(const Records& records);

  std::string dir_;
  int stream_;
  int fd_ = -1;
  int64_t end_ = 0;            // position after the last record
  int64_t segment_records_ = 0;
};

}  // namespace trib
