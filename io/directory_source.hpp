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
#pragma once

#include <set>
#include <string>

#include "dstream/core/graph.hpp"

namespace trib {

class DirectorySource : public SourceNode {
 public:
  DirectorySource(std::string dir, int partitions);

  bool poll(int64_t t, Dataset& out) override;
  std::string position() const override;
  void seek(const std::string& position) override;

 private:
  std::string dir_;
  int partitions_;
  std::set<std::string> done_;    // file names already read
  std::set<std::string> warned_;  // problems already logged once
};

}  // namespace trib
