#include "io/directory_source.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "io/line_splitter.hpp"
#include "dstream/core/text_block.hpp"
#include "io/utf8.hpp"

namespace fs = std::filesystem;

namespace trib {

DirectorySource::DirectorySource(std::string dir, int partitions)
    : dir_(std::move(dir)), partitions_(partitions) {
  name = "textFileStream";
}

bool DirectorySource::poll(int64_t, Dataset& out) {
  struct Candidate {
    fs::file_time_type mtime;
    std::string name;
  };
  std::vector<Candidate> fresh;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir_, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string file = it->path().filename().string();
    if (file.empty() || file[0] == '.' || file[0] == '_' || done_.count(file)) continue;
    std::error_code stat_ec;
    if (!it->is_regular_file(stat_ec)) continue;
    auto mtime = fs::last_write_time(it->path(), stat_ec);
    if (!stat_ec) fresh.push_back({mtime, file});
  }
  if (ec && warned_.insert("dir").second)
    spdlog::warn("textFileStream {}: cannot list the directory: {}; trying again next interval",
                 dir_, ec.message());
  std::sort(fresh.begin(), fresh.end(), [](auto& a, auto& b) {
    return a.mtime != b.mtime ? a.mtime < b.mtime : a.name < b.name;
  });
  std::vector<std::string> lines;
  for (auto& f : fresh) {
    std::string path = dir_ + "/" + f.name;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      if (warned_.insert(f.name).second)
        spdlog::warn("textFileStream: cannot read {} (it vanished or is unreadable); "
                     "trying again next interval", path);
      continue;
    }
    std::stringstream content;
    content << in.rdbuf();
    std::string bytes = content.str();
    LineSplitter splitter;
    std::size_t first = lines.size(), repaired = 0;
    splitter.feed(bytes.data(), bytes.size(), lines);
    splitter.finish(lines);
    for (std::size_t i = first; i < lines.size(); ++i) repaired += sanitize_utf8(lines[i]);
    if (repaired)
      spdlog::warn("textFileStream: {} has invalid UTF-8; replaced {} bytes with U+FFFD", path, repaired);
    done_.insert(f.name);
    spdlog::debug("textFileStream: read {} ({} lines)", path, lines.size() - first);
  }
  out = split_text_into_partitions(std::move(lines), partitions_);
  return true;
}

std::string DirectorySource::position() const {
  std::string text;
  for (auto& f : done_) text += f + "\n";
  return text;
}

void DirectorySource::seek(const std::string& position) {
  done_.clear();
  std::istringstream in(position);
  for (std::string f; std::getline(in, f);)
    if (!f.empty()) done_.insert(f);
}

}  // namespace trib
