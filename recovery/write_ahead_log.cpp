#include "recovery/write_ahead_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string_view>

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <spdlog/spdlog.h>

#include "dstream/core/cereal_bytes.hpp"
#include "dstream/core/checksum.hpp"
#include "recovery/durable_file.hpp"
#include "recovery/fault_injection.hpp"
#include "recovery/recovery_refused.hpp"

namespace fs = std::filesystem;

namespace trib {
namespace {

constexpr int64_t kSegmentRecords = 1 << 20;  // start a new file after this many
constexpr std::size_t kHeader = 20;           // size, records, payload checksum, header checksum

// Segments start with this; a segment without it was written before the
// switch to XXH3 and carries FNV-1a checksums.
constexpr char kSegmentMagic[8] = {'T', 'R', 'I', 'B', 'W', 'A', 'L', '2'};

uint64_t payload_checksum(std::string_view data, bool fnv) { return fnv ? fnv1a64(data) : checksum64(data); }

uint32_t header_checksum(const char* first16, bool fnv) {
  return static_cast<uint32_t>(payload_checksum(std::string_view(first16, 16), fnv));
}

// One entry as read back: the records it held (per its checksummed
// header), and them unless its payload is corrupt.
struct Entry {
  std::size_t offset = 0;
  int64_t count = 0;
  bool corrupt = false;
  std::vector<std::string> records;
};

struct SegmentScan {
  std::vector<Entry> entries;
  // A corrupt header at this byte: the rest of the segment cannot be split
  // into entries, so how many records it held is unknown here.
  std::optional<std::size_t> unreadable_from;
};

// A segment that cannot be read at all refuses the recovery.
std::string read_segment(const std::string& path) {
  try {
    return read_whole_file(path, "write-ahead log");
  } catch (const std::runtime_error& e) {
    throw RecoveryRefused(e.what());
  }
}

SegmentScan scan_segment(const std::string& path) {
  std::string data = read_segment(path);
  SegmentScan scan;
  std::size_t pos = 0;
  bool fnv = data.size() < sizeof kSegmentMagic || std::memcmp(data.data(), kSegmentMagic, sizeof kSegmentMagic) != 0;
  if (!fnv) pos = sizeof kSegmentMagic;
  while (pos + kHeader <= data.size()) {
    uint32_t size, count, check;
    uint64_t checksum;
    std::memcpy(&size, data.data() + pos, 4);
    std::memcpy(&count, data.data() + pos + 4, 4);
    std::memcpy(&checksum, data.data() + pos + 8, 8);
    std::memcpy(&check, data.data() + pos + 16, 4);
    if (check != header_checksum(data.data() + pos, fnv)) {
      scan.unreadable_from = pos;
      return scan;
    }
    if (pos + kHeader + size > data.size()) break;  // torn
    Entry e{pos, count, false, {}};
    std::string payload = data.substr(pos + kHeader, size);
    e.corrupt = payload_checksum(payload, fnv) != checksum;
    if (!e.corrupt) {
      from_cereal_bytes(payload, e.records);
      e.corrupt = e.records.size() != count;
    }
    scan.entries.push_back(std::move(e));
    pos += kHeader + size;
  }
  if (pos < data.size())
    spdlog::warn("write-ahead log {}: ignoring {} bytes of a torn last entry", path, data.size() - pos);
  return scan;
}

void write_all(int fd, std::string_view bytes) {
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(std::string("write-ahead log append failed: ") + std::strerror(errno));
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

// Records not covered by a checkpoint that cannot be read back (`records`;
// -1: of unknown number), as `what` says: an error, unless the loss is
// accepted.
void lose(WalLossPolicy* loss, const std::string& what, int64_t records) {
  if (!loss || !loss->accept)
    throw RecoveryRefused(what + "; to go on without them, accept the loss (--accept-wal-loss; "
                                    "StreamingOptions::accept_wal_loss)");
  loss->lost += std::max<int64_t>(records, 0);
  loss->problems.push_back(what);
}

void lose_entry(WalLossPolicy* loss, const std::string& path, std::size_t offset, int64_t records) {
  if (records == 0) {  // the next segment starts where the readable entries end
    spdlog::warn("write-ahead log {}: ignoring unreadable bytes from byte {}, past its last record", path, offset);
    return;
  }
  lose(loss,
       "write-ahead log " + path + ": corrupt entry at byte " + std::to_string(offset) + ", " +
           (records < 0 ? std::string("the rest of the newest segment (records of unknown number)")
                        : std::to_string(records) + " records not covered by a checkpoint"),
       records);
}

// Records [from, to) that no segment holds (a segment deleted or cut short).
void lose_range(WalLossPolicy* loss, const std::string& where, int64_t from, int64_t to) {
  lose(loss,
       "write-ahead log: records " + std::to_string(from) + " to " + std::to_string(to - 1) + " (" +
           std::to_string(to - from) + " records not covered by a checkpoint) are in no segment: " + where,
       to - from);
}

}  // namespace

WriteAheadLog::WriteAheadLog(std::string dir, int stream, int64_t resume_at)
    : dir_(std::move(dir)), stream_(stream) {
  make_directories(dir_);
  auto segs = segments();
  if (!segs.empty()) {
    const Segment& last = segs.back();
    end_ = last.first;
    for (auto& e : scan_segment(last.path).entries) end_ += e.count;
  }
  // Records before the checkpoint's position are in its state, whatever
  // happened to the log: new ones must not take their numbers, or a replay
  // from that position would skip them.
  if (end_ < resume_at) {
    spdlog::warn("write-ahead log of stream {} in {} ends at record {}, before the checkpoint's position {}: "
                 "new records are numbered from there",
                 stream_, dir_, end_, resume_at);
    end_ = resume_at;
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
  write_all(fd_, std::string_view(kSegmentMagic, sizeof kSegmentMagic));
  // The entries are fdatasync'ed as they are appended, but the segment's name
  // lives in the directory: without this a power loss can lose the file.
  sync_directory(dir_);
  segment_records_ = 0;
}

int64_t WriteAheadLog::append(const std::vector<std::string>& records) {
  return append_records(records);
}

int64_t WriteAheadLog::append(const std::vector<Text>& records) { return append_records(records); }

template <class Records>
int64_t WriteAheadLog::append_records(const Records& records) {
  return append_payload(to_cereal_bytes(records), records.size());
}

int64_t WriteAheadLog::append_payload(const std::string& payload, std::size_t records) {
  std::string entry(kHeader, '\0');
  uint32_t size = static_cast<uint32_t>(payload.size()), count = static_cast<uint32_t>(records);
  uint64_t checksum = checksum64(payload);
  std::memcpy(entry.data(), &size, 4);
  std::memcpy(entry.data() + 4, &count, 4);
  std::memcpy(entry.data() + 8, &checksum, 8);
  uint32_t check = header_checksum(entry.data(), /*fnv=*/false);
  std::memcpy(entry.data() + 16, &check, 4);
  entry += payload;
  FaultHit injected = fault_point("wal-append");
  if (injected.action == FaultHit::Action::fail)
    throw std::runtime_error(std::string("write-ahead log append failed: ") + std::strerror(injected.error));
  if (injected.action == FaultHit::Action::corrupt && !payload.empty())
    entry[kHeader + payload.size() / 2] ^= 0x5a;  // after the checksum: a bit rot on disk
  write_all(fd_, entry);
  if (::fdatasync(fd_) != 0)
    throw std::runtime_error(std::string("write-ahead log fsync failed: ") + std::strerror(errno));
  crash_point("wal-append-written");
  end_ += static_cast<int64_t>(records);
  segment_records_ += static_cast<int64_t>(records);
  if (segment_records_ >= kSegmentRecords) start_segment();
  return end_;
}

std::vector<std::string> WriteAheadLog::read(const std::string& dir, int stream, int64_t position,
                                             WalLossPolicy* loss) {
  std::vector<std::string> out;
  auto segs = segments(dir, stream);
  // Segments are named by their first record and follow each other without
  // a gap (a new one starts where the last one's records end), the oldest
  // kept starting at or before any kept checkpoint's position.
  if (!segs.empty() && segs[0].first > position)
    lose_range(loss, "the oldest segment, " + segs[0].path + ", starts after them", position, segs[0].first);
  int64_t ended = -1;  // where the previous segment's records end (-1: not known)
  for (std::size_t i = 0; i < segs.size(); ++i) {
    SegmentScan scan = scan_segment(segs[i].path);
    if (ended >= 0 && segs[i].first != ended) {
      std::string where = segs[i - 1].path + " ends at record " + std::to_string(ended) + ", " + segs[i].path +
                          " starts at " + std::to_string(segs[i].first);
      if (segs[i].first < ended)
        throw RecoveryRefused("write-ahead log segments overlap: " + where);
      if (segs[i].first > position) lose_range(loss, where, std::max(ended, position), segs[i].first);
    }
    int64_t at = segs[i].first;
    for (auto& e : scan.entries) {
      if (e.corrupt && at + e.count > position)
        lose_entry(loss, segs[i].path, e.offset, at + e.count - std::max(at, position));
      for (auto& record : e.records)
        if (at++ >= position) out.push_back(std::move(record));
      if (e.corrupt) at += e.count;
    }
    ended = at;
    if (!scan.unreadable_from) continue;
    ended = -1;  // the next segment's name says where this one ended
    if (i + 1 == segs.size())
      lose_entry(loss, segs[i].path, *scan.unreadable_from, -1);
    else if (segs[i + 1].first > position)
      lose_entry(loss, segs[i].path, *scan.unreadable_from, segs[i + 1].first - std::max(at, position));
  }
  return out;
}

int64_t WriteAheadLog::records_in(const std::string& dir, int stream) {
  int64_t n = 0;
  for (auto& seg : segments(dir, stream))
    for (auto& e : scan_segment(seg.path).entries) n += e.count;
  return n;
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
