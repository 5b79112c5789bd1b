// textFileStream(dir): new files in a directory, one record per line.
//
// As in Spark, files should be moved (renamed) into the directory once
// complete; names starting with '.' or '_' are ignored, so a writer can
// stage a file there first. When an interval closes, every file not read
// before is read, oldest modification time first (then by name). The set of
// files read is the source's position: it goes into checkpoints, so a
// restarted job reads each file once. A file that vanishes before it is read
// or cannot be opened is logged and tried again at the next interval;
// invalid UTF-8 is replaced and counted in a warning.
//
// The set of files read stays bounded, as Spark's remember window keeps it:
// a name is forgotten once its file left the directory, or once its
// modification time is more than `remember` older than the newest file read.
// Files that old are ignored (a new one is named in a warning), so a file
// must be moved in with a fresh modification time (`mv` keeps the old one:
// `touch` it first, or copy it).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "dstream/core/graph.hpp"

namespace trib {

class DirectorySource : public SourceNode {
 public:
  DirectorySource(std::string dir, int partitions,
                  std::chrono::milliseconds remember = std::chrono::minutes(10));

  bool poll(int64_t t, Dataset& out) override;
  bool blocking() const override { return true; }
  std::string position() const override;
  void seek(const std::string& position) override;

 private:
  void forget(std::set<std::string> listed);

  std::string dir_;
  int partitions_;
  int64_t remember_ms_;
  std::map<std::string, int64_t> done_;  // file names read (within the window): mtime, ms
  int64_t newest_ms_ = INT64_MIN;        // newest mtime of a file read
  std::set<std::string> listed_;         // names in the previous listing
  std::set<std::string> warned_;         // problems logged once (names still listed)
};

}  // namespace trib
