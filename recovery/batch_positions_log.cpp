#include "recovery/batch_positions_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string_view>

#include <spdlog/spdlog.h>

#include "dstream/core/checksum.hpp"
#include "recovery/durable_file.hpp"

namespace fs = std::filesystem;

namespace trib {
namespace {

constexpr char kMagic[8] = {'T', 'R', 'I', 'B', 'B', 'P', 'L', '1'};
constexpr std::size_t kHeader = 16;  // size, payload checksum, header checksum

template <class T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(value));
}

// Reads a T of a payload whose checksum matched: running past its end is
// a format error, not a torn write.
template <class T>
T get(const std::string& in, std::size_t& pos) {
  if (pos + sizeof(T) > in.size()) throw std::runtime_error("entry ends early");
  T value;
  std::memcpy(&value, in.data() + pos, sizeof(T));
  pos += sizeof(T);
  return value;
}

std::string get_string(const std::string& in, std::size_t& pos) {
  auto n = get<uint32_t>(in, pos);
  if (pos + n > in.size()) throw std::runtime_error("entry ends early");
  std::string s = in.substr(pos, n);
  pos += n;
  return s;
}

uint32_t header_checksum(const char* first12) {
  return static_cast<uint32_t>(checksum64(std::string_view(first12, 12)));
}

std::string encode_entry(const BatchPositions& b) {
  std::string payload;
  put<int64_t>(payload, b.batch_time_ms);
  put<uint32_t>(payload, static_cast<uint32_t>(b.sources.size()));
  for (auto& [id, range] : b.sources) {
    put<int32_t>(payload, id);
    put<uint32_t>(payload, static_cast<uint32_t>(range.first.size()));
    payload += range.first;
    put<uint32_t>(payload, static_cast<uint32_t>(range.second.size()));
    payload += range.second;
  }
  std::string entry;
  put<uint32_t>(entry, static_cast<uint32_t>(payload.size()));
  put<uint64_t>(entry, checksum64(payload));
  put<uint32_t>(entry, header_checksum(entry.data()));
  return entry + payload;
}

struct Scan {
  std::vector<BatchPositions> entries;
  std::size_t good_end = 0;  // bytes up to the end of the last good entry
  bool torn = false;
};

Scan scan_file(const std::string& path) {
  Scan scan;
  if (!path_exists(path)) return scan;
  std::string data = read_whole_file(path, "batch positions log");
  std::string what = "batch positions log " + path;
  if (data.size() < sizeof kMagic) {
    // Cut while the file was being created: nothing was ever logged in it.
    if (std::memcmp(data.data(), kMagic, data.size()) != 0)
      throw std::runtime_error(what + " is not a Tributary batch positions log (bad magic)");
    scan.torn = !data.empty();
    return scan;
  }
  if (std::memcmp(data.data(), kMagic, sizeof kMagic) != 0)
    throw std::runtime_error(what + " is not a Tributary batch positions log (bad magic)");
  std::size_t pos = sizeof kMagic;
  scan.good_end = pos;
  while (pos < data.size()) {
    if (pos + kHeader > data.size()) {
      scan.torn = true;
      break;
    }
    uint32_t size, check;
    uint64_t checksum;
    std::memcpy(&size, data.data() + pos, 4);
    std::memcpy(&checksum, data.data() + pos + 4, 8);
    std::memcpy(&check, data.data() + pos + 12, 4);
    if (check != header_checksum(data.data() + pos))
      throw std::runtime_error(what + ": corrupt entry header at byte " + std::to_string(pos));
    if (pos + kHeader + size > data.size()) {
      scan.torn = true;
      break;
    }
    std::string payload = data.substr(pos + kHeader, size);
    if (checksum64(payload) != checksum)
      throw std::runtime_error(what + ": corrupt entry at byte " + std::to_string(pos) + " (checksum mismatch)");
    BatchPositions b;
    try {
      std::size_t p = 0;
      b.batch_time_ms = get<int64_t>(payload, p);
      auto n = get<uint32_t>(payload, p);
      for (uint32_t i = 0; i < n; ++i) {
        auto id = get<int32_t>(payload, p);
        std::string start = get_string(payload, p);
        std::string end = get_string(payload, p);
        b.sources[id] = {std::move(start), std::move(end)};
      }
      if (p != payload.size()) throw std::runtime_error("trailing bytes");
    } catch (const std::exception& e) {
      throw std::runtime_error(what + ": malformed entry at byte " + std::to_string(pos) + " (" + e.what() + ")");
    }
    scan.entries.push_back(std::move(b));
    pos += kHeader + size;
    scan.good_end = pos;
  }
  if (scan.torn)
    spdlog::warn("batch positions log {}: dropping {} bytes of a torn last entry (its batch never ran)", path,
                 data.size() - scan.good_end);
  return scan;
}

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw std::runtime_error(what + " batch positions log " + path + ": " + std::strerror(errno));
}

void write_all(int fd, std::string_view bytes, const std::string& path) {
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot append to", path);
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace

std::string BatchPositionsLog::path_in(const std::string& dir) { return dir + "/batch-positions.log"; }

BatchPositionsLog::BatchPositionsLog(std::string dir) : dir_(std::move(dir)), path_(path_in(dir_)) {
  make_directories(dir_);
  open_for_append();
}

BatchPositionsLog::~BatchPositionsLog() {
  if (fd_ >= 0) ::close(fd_);
}

void BatchPositionsLog::open_for_append() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  Scan scan = scan_file(path_);
  bool created = !path_exists(path_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("cannot open", path_);
  // A torn tail is cut off, so the next entry follows the last good one.
  if (scan.torn && ::ftruncate(fd_, static_cast<off_t>(scan.good_end)) != 0) fail("cannot truncate", path_);
  if (scan.good_end == 0) {
    if (::ftruncate(fd_, 0) != 0) fail("cannot truncate", path_);
    if (::lseek(fd_, 0, SEEK_SET) < 0) fail("cannot seek in", path_);
    write_all(fd_, std::string_view(kMagic, sizeof kMagic), path_);
  } else if (::lseek(fd_, static_cast<off_t>(scan.good_end), SEEK_SET) < 0) {
    fail("cannot seek in", path_);
  }
  if (::fsync(fd_) != 0) fail("cannot fsync", path_);
  if (created) sync_directory(dir_);
}

void BatchPositionsLog::append(const BatchPositions& batch) {
  write_all(fd_, encode_entry(batch), path_);
  if (::fsync(fd_) != 0) fail("cannot fsync", path_);
}

void BatchPositionsLog::drop_through(int64_t time) {
  auto entries = scan_file(path_).entries;
  std::string content(kMagic, sizeof kMagic);
  std::size_t kept = 0;
  for (auto& b : entries)
    if (b.batch_time_ms > time) {
      content += encode_entry(b);
      ++kept;
    }
  if (kept == entries.size()) return;
  std::string tmp = path_ + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot create", tmp);
  try {
    write_all(fd, content, tmp);
    if (::fsync(fd) != 0) fail("cannot fsync", tmp);
  } catch (...) {
    ::close(fd);
    std::remove(tmp.c_str());
    throw;
  }
  ::close(fd);
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) {
    std::remove(tmp.c_str());
    fail("cannot rename to", path_);
  }
  sync_directory(dir_);
  open_for_append();
}

std::vector<BatchPositions> BatchPositionsLog::read(const std::string& dir) {
  return scan_file(path_in(dir)).entries;
}

void BatchPositionsLog::discard(const std::string& dir) {
  std::error_code ec;
  fs::remove(path_in(dir), ec);
  fs::remove(path_in(dir) + ".tmp", ec);
}

}  // namespace trib
