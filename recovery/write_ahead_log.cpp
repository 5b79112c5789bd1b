#include "recovery/write_ahead_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <cereal/archives/binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <spdlog/spdlog.h>

#include "dstream/core/checksum.hpp"
#include "recovery/durable_file.hpp"

namespace fs = std::filesystem;

namespace trib {
namespace {

constexpr int64_t kSegmentRecords = 1 << 20;  // start a new file after this many

// Reads the intact entries of one segment; stops at a torn or corrupt one.
std::vector<std::vector<std::string>> read_entries(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::vector<std::string>> entries;
  std::size_t pos = 0;
  while (pos + 12 <= data.size()) {
    uint32_t size;
    uint64_t checksum;
    std::memcpy(&size, data.data() + pos, 4);
    std::memcpy(&checksum, data.data() + pos + 4, 8);
    if (pos + 12 + size > data.size()) break;
    std::string payload = data.substr(pos + 12, size);
    if (fnv1a64(payload) != checksum) {
      spdlog::warn("write-ahead log {}: corrupt entry at byte {}; ignoring the rest", path, pos);
      break;
    }
    std::istringstream stream(payload);
    cereal::BinaryInputArchive archive(stream);
    entries.emplace_back();
    archive(entries.back());
    pos += 12 + size;
  }
  if (pos < data.size())
    spdlog::warn("write-ahead log {}: ignoring {} bytes of a torn last entry", path, data.size() - pos);
  return entries;
}

}  // namespace

WriteAheadLog::WriteAheadLog(std::string dir, int stream) : dir_(std::move(dir)), stream_(stream) {
  make_directories(dir_);
  auto segs = segments();
  if (!segs.empty()) {
    const Segment& last = segs.back();
    end_ = last.first;
    for (auto& e : read_entries(last.path)) end_ += static_cast<int64_t>(e.size());
  }
  // Always append to a fresh segment: a torn tail in the old one stays
  // behind the records it held and is never mistaken for new data.
  start_segment();
}

WriteAheadLog::~WriteAheadLog() {
  if (fd_ >= 0) ::close(fd_);
}

void WriteAheadLog::start_segment() {
  if (fd_ >= 0) ::close(fd_);
  std::string path = dir_ + "/wal-" + std::to_string(stream_) + "-" + std::to_string(end_) + ".log";
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error("cannot open write-ahead log " + path + ": " + std::strerror(errno));
  segment_records_ = 0;
}

int64_t WriteAheadLog::append(const std::vector<std::string>& records) {
  return append_records(records);
}

int64_t WriteAheadLog::append(const std::vector<Text>& records) { return append_records(records); }

template <class Records>
int64_t WriteAheadLog::append_records(const Records& records) {
  std::ostringstream stream;
  {
    cereal::BinaryOutputArchive archive(stream);
    archive(records);
  }
  return append_payload(stream.str(), records.size());
}

int64_t WriteAheadLog::append_payload(const std::string& payload, std::size_t records) {
  std::string entry(12, '\0');
  uint32_t size = static_cast<uint32_t>(payload.size());
  uint64_t checksum = fnv1a64(payload);
  std::memcpy(entry.data(), &size, 4);
  std::memcpy(entry.data() + 4, &checksum, 8);
  entry += payload;
  const char* p = entry.data();
  std::size_t left = entry.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(std::string("write-ahead log append failed: ") + std::strerror(errno));
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fdatasync(fd_) != 0)
    throw std::runtime_error(std::string("write-ahead log fsync failed: ") + std::strerror(errno));
  end_ += static_cast<int64_t>(records);
  segment_records_ += static_cast<int64_t>(records);
  if (segment_records_ >= kSegmentRecords) start_segment();
  return end_;
}

std::vector<std::string> WriteAheadLog::read(const std::string& dir, int stream,
                                             int64_t position) {
  std::vector<std::string> out;
  for (auto& seg : segments(dir, stream)) {
    int64_t at = seg.first;
    for (auto& entry : read_entries(seg.path))
      for (auto& record : entry) {
        if (at >= position) out.push_back(record);
        ++at;
      }
  }
  return out;
}

void WriteAheadLog::truncate_before(int64_t position) {
  auto segs = segments();
  // Segment i covers [first_i, first_{i+1}); it can go when first_{i+1} <= position.
  for (std::size_t i = 0; i + 1 < segs.size(); ++i)
    if (segs[i + 1].first <= position) {
      std::error_code ec;
      fs::remove(segs[i].path, ec);
    }
}

void WriteAheadLog::discard(const std::string& dir, int stream) {
  for (auto& seg : segments(dir, stream)) {
    std::error_code ec;
    fs::remove(seg.path, ec);
  }
}

std::vector<WriteAheadLog::Segment> WriteAheadLog::segments(const std::string& dir, int stream) {
  std::vector<Segment> found;
  std::string prefix = "wal-" + std::to_string(stream) + "-";
  std::error_code ec;
  for (auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0 || name.size() < prefix.size() + 5) continue;
    try {
      found.push_back({std::stoll(name.substr(prefix.size())), entry.path().string()});
    } catch (...) {
    }
  }
  std::sort(found.begin(), found.end(), [](auto& a, auto& b) { return a.first < b.first; });
  return found;
}

}  // namespace trib
