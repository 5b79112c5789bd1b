#include "io/directory_source.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "io/line_splitter.hpp"
#include "dstream/core/text_block.hpp"
#include "io/utf8.hpp"

namespace fs = std::filesystem;

namespace trib {
namespace {

// Modification time in ms since the epoch; false unless a regular file.
bool mtime_ms(const std::string& path, int64_t& ms) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  ms = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
  return true;
}

}  // namespace

DirectorySource::DirectorySource(std::string dir, int partitions, std::chrono::milliseconds remember)
    : dir_(std::move(dir)), partitions_(partitions), remember_ms_(remember.count()) {
  name = "textFileStream";
}

bool DirectorySource::poll(int64_t, Dataset& out) {
  struct Candidate {
    int64_t mtime;
    std::string name;
  };
  std::vector<Candidate> fresh;
  std::set<std::string> listed;
  int64_t horizon = newest_ms_ == INT64_MIN ? INT64_MIN : newest_ms_ - remember_ms_;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir_, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string file = it->path().filename().string();
    if (file.empty() || file[0] == '.' || file[0] == '_') continue;
    listed.insert(file);
    if (done_.count(file)) continue;
    int64_t mtime = 0;
    if (!mtime_ms(it->path().string(), mtime)) continue;
    if (mtime < horizon) {  // read long ago and forgotten, or moved in too old
      // Warn of files that newly appeared (not of those a restart finds).
      if (!listed_.empty() && !listed_.count(file) && warned_.insert(file).second)
        spdlog::warn("textFileStream {}: ignoring {}: modified more than {} ms before the newest file "
                     "read (touch it to have it read)", dir_, file, remember_ms_);
      continue;
    }
    fresh.push_back({mtime, file});
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
    done_[f.name] = f.mtime;
    newest_ms_ = std::max(newest_ms_, f.mtime);
    spdlog::debug("textFileStream: read {} ({} lines)", path, lines.size() - first);
  }
  if (!ec) forget(std::move(listed));
  out = split_text_into_partitions(std::move(lines), partitions_);
  return true;
}

// Keeps what is remembered bounded: names no longer in the directory, or
// older than the window (which ignores those files anyway), are forgotten.
void DirectorySource::forget(std::set<std::string> listed) {
  int64_t horizon = newest_ms_ == INT64_MIN ? INT64_MIN : newest_ms_ - remember_ms_;
  for (auto it = done_.begin(); it != done_.end();)
    it = !listed.count(it->first) || it->second < horizon ? done_.erase(it) : std::next(it);
  for (auto it = warned_.begin(); it != warned_.end();)
    it = *it != "dir" && !listed.count(*it) ? warned_.erase(it) : std::next(it);
  listed_ = std::move(listed);
}

// One line per file remembered: name, tab, mtime in ms. (Earlier builds
// wrote the name alone; such a name is kept until its file leaves.)
std::string DirectorySource::position() const {
  std::string text;
  for (auto& [f, mtime] : done_) text += f + "\t" + std::to_string(mtime) + "\n";
  return text;
}

void DirectorySource::seek(const std::string& position) {
  done_.clear();
  newest_ms_ = INT64_MIN;
  std::istringstream in(position);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    int64_t mtime = INT64_MAX;  // unknown: never forgotten for its age
    if (auto tab = line.rfind('\t'); tab != std::string::npos) {
      try {
        mtime = std::stoll(line.substr(tab + 1));
        line.resize(tab);
      } catch (...) {
        mtime = INT64_MAX;
      }
    }
    done_[line] = mtime;
    if (mtime != INT64_MAX) newest_ms_ = std::max(newest_ms_, mtime);
  }
}

}  // namespace trib
