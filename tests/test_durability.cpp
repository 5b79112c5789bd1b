// On-disk durability: what the write-ahead log and the checksummed files
// promise beyond their contents (a new segment's name is synced into its
// directory; the checksum format and its versions).
#define BOOST_TEST_MODULE durability
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>

#include <cereal/archives/binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "process.hpp"
#include "recovery/batch_positions_log.hpp"
#include "recovery/checkpoint.hpp"
#include "recovery/recovery_refused.hpp"
#include "recovery/state_snapshot.hpp"
#include "recovery/write_ahead_log.hpp"
#include "temp_dir.hpp"

namespace {

using testing::TempDir;

// The system calls of this test binary re-run with one test case, as strace
// records them (the one way to see an fsync from outside).
std::string strace_of(const std::string& test_case, const std::string& dir) {
  TempDir tmp;
  std::string log = tmp.path + "/strace.log";
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  BOOST_REQUIRE(n > 0);
  self[n] = '\0';
  std::string cmd = "TRIB_DURABILITY_CHILD='" + dir + "' strace -f -qq -e trace=openat,fsync,fdatasync -o " +
                    log + " '" + self + "' --run_test=" + test_case + " >/dev/null 2>&1";
  BOOST_REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, cmd);
  return testing::slurp(log);
}

const char* child_dir() { return std::getenv("TRIB_DURABILITY_CHILD"); }

}  // namespace

// Run as a child under strace by the next test: opens a log (one segment).
BOOST_AUTO_TEST_CASE(open_a_log) {
  if (!child_dir()) return;  // only meaningful as the child
  trib::WriteAheadLog wal(child_dir(), 0);
  wal.append(std::vector<std::string>{"a", "b"});
}

BOOST_AUTO_TEST_CASE(a_new_segment_is_synced_into_its_directory) {
  if (child_dir()) return;
  TempDir tmp;
  std::string trace = strace_of("open_a_log", tmp.path);
  // The segment is created, then its directory opened and fsynced.
  std::smatch m;
  std::regex created("openat\\(AT_FDCWD, \"" + tmp.path + "/wal-0-0\\.log\", O_WRONLY\\|O_CREAT");
  BOOST_REQUIRE_MESSAGE(std::regex_search(trace, m, created), trace);
  std::string after = m.suffix();
  std::regex dir_sync("openat\\(AT_FDCWD, \"" + tmp.path +
                      "\", O_RDONLY[^)]*O_DIRECTORY[^)]*\\) = (\\d+)\\n(?:.*\\n)*?\\d+ +fsync\\((\\d+)\\)");
  BOOST_REQUIRE_MESSAGE(std::regex_search(after, m, dir_sync), after);
  BOOST_TEST(m[1].str() == m[2].str());
}

namespace {

// The reference FNV-1a 64 (as earlier builds wrote it), written out here.
uint64_t reference_fnv(const std::string& s) {
  uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

uint64_t u64_at(const std::string& s, std::size_t at) {
  uint64_t v;
  std::memcpy(&v, s.data() + at, 8);
  return v;
}

void set_u32(std::string& s, std::size_t at, uint32_t v) { std::memcpy(s.data() + at, &v, 4); }
void set_u64(std::string& s, std::size_t at, uint64_t v) { std::memcpy(s.data() + at, &v, 8); }

void write(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

// A frame (magic | version | size | payload | checksum) rewritten as an
// earlier build wrote it: version `old`, FNV-1a over the payload.
std::string as_fnv_frame(std::string file, uint32_t old) {
  uint64_t size = u64_at(file, 12);
  std::string payload = file.substr(20, size);
  set_u32(file, 8, old);
  set_u64(file, 20 + size, reference_fnv(payload));
  return file;
}

trib::Checkpoint sample(const std::string& dir) {
  std::string state = trib::state_snapshot_name(500, "coordinator");
  trib::write_state_snapshot(dir + "/" + state, {{{3, 1}, std::string("\0state\xff", 7)}});
  trib::Checkpoint cp;
  cp.state_files[{3, 1}] = state;
  cp.graph_fingerprint = "abc";
  cp.batch_interval_ms = 100;
  cp.last_batch_time_ms = 500;
  cp.source_positions[0] = "42";
  return cp;
}

}  // namespace

BOOST_AUTO_TEST_CASE(checkpoints_carry_xxh3_and_fnv_ones_of_earlier_builds_still_read) {
  if (child_dir()) return;
  BOOST_TEST(reference_fnv("a") == 0xaf63dc4c8601ec8cULL);  // the published test vector
  TempDir dir;
  trib::CheckpointStore store(dir.path);
  store.save(sample(dir.path));
  std::string ckpt = dir.path + "/checkpoint-500.bin";
  std::string state = dir.path + "/" + trib::state_snapshot_name(500, "coordinator");
  for (const std::string& path : {ckpt, state}) {
    std::string file = testing::slurp(path);
    uint64_t size = u64_at(file, 12);
    BOOST_TEST(u64_at(file, 20 + size) == XXH3_64bits(file.data() + 20, size), path);
  }
  write(ckpt, as_fnv_frame(testing::slurp(ckpt), 2));
  write(state, as_fnv_frame(testing::slurp(state), 1));
  auto cp = store.load_latest();
  BOOST_REQUIRE(cp);
  BOOST_TEST(cp->source_positions.at(0) == "42");
  BOOST_TEST((cp->partition_states.at({3, 1}) == std::string("\0state\xff", 7)));
  // An FNV file with a flipped payload byte is still caught.
  std::string bad = testing::slurp(ckpt);
  bad[24] ^= 1;
  write(ckpt, bad);
  BOOST_CHECK_EXCEPTION(trib::CheckpointStore::read_file(ckpt), std::runtime_error,
                        [](const std::runtime_error& e) {
                          return std::string(e.what()).find("checksum mismatch") != std::string::npos;
                        });
}

BOOST_AUTO_TEST_CASE(wal_entries_carry_xxh3_and_fnv_segments_of_earlier_builds_still_read) {
  if (child_dir()) return;
  TempDir dir;
  {
    trib::WriteAheadLog wal(dir.path, 0);
    wal.append(std::vector<std::string>{"one", "two"});
  }
  std::string seg = testing::slurp(dir.path + "/wal-0-0.log");
  BOOST_REQUIRE(seg.size() > 28);
  BOOST_TEST(seg.substr(0, 8) == "TRIBWAL2");
  uint32_t size;
  std::memcpy(&size, seg.data() + 8, 4);
  BOOST_TEST(u64_at(seg, 16) == XXH3_64bits(seg.data() + 28, size));

  // An earlier build's segment: no magic, FNV-1a checksums.
  std::ostringstream payload_stream;
  {
    cereal::BinaryOutputArchive archive(payload_stream);
    archive(std::vector<std::string>{"three", "four", "five"});
  }
  std::string payload = payload_stream.str(), old(20, '\0');
  set_u32(old, 0, static_cast<uint32_t>(payload.size()));
  set_u32(old, 4, 3);
  set_u64(old, 8, reference_fnv(payload));
  set_u32(old, 16, static_cast<uint32_t>(reference_fnv(old.substr(0, 16))));
  old += payload;
  TempDir before;
  write(before.path + "/wal-0-0.log", old);
  auto records = trib::WriteAheadLog::read(before.path, 0, 0);
  BOOST_TEST(records == (std::vector<std::string>{"three", "four", "five"}), boost::test_tools::per_element());
  // A new log opened there continues after them, in a segment of the new format.
  trib::WriteAheadLog wal(before.path, 0);
  BOOST_TEST(wal.end() == 3);
  wal.append(std::vector<std::string>{"six"});
  records = trib::WriteAheadLog::read(before.path, 0, 1);
  BOOST_TEST(records == (std::vector<std::string>{"four", "five", "six"}), boost::test_tools::per_element());
}

namespace {
std::vector<std::string> numbered(int from, int n) {
  std::vector<std::string> r;
  for (int i = from; i < from + n; ++i) r.push_back("r" + std::to_string(i));
  return r;
}
std::vector<std::string> joined(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
// What reading the log refuses with ("" when it reads).
std::string refusal(const std::string& dir, int64_t position) {
  try {
    trib::WriteAheadLog::read(dir, 0, position);
  } catch (const trib::RecoveryRefused& e) {
    return e.what();
  }
  return "";
}
// wal-0-0.log with records 0-99 in ten entries, then wal-0-100.log with 100-149.
void two_segments(const std::string& dir) {
  {
    trib::WriteAheadLog wal(dir, 0);
    for (int e = 0; e < 10; ++e) wal.append(numbered(10 * e, 10));
  }
  trib::WriteAheadLog wal(dir, 0);  // a restart: a new segment
  wal.append(numbered(100, 50));
}
}  // namespace

// Records missing between segments (a segment deleted, or cut short at an
// entry boundary, which no checksum sees) are found from the segments'
// names: an error naming them, unless the loss is accepted, when they are
// counted. A segment that cannot be read at all is an error naming it.
BOOST_AUTO_TEST_CASE(records_missing_between_segments_and_unreadable_segments_are_errors) {
  if (child_dir()) return;
  {
    TempDir dir;
    two_segments(dir.path);
    BOOST_TEST(trib::WriteAheadLog::read(dir.path, 0, 0) == numbered(0, 150), boost::test_tools::per_element());
    std::filesystem::remove(dir.path + "/wal-0-0.log");
    std::string why = refusal(dir.path, 0);
    BOOST_TEST(why.find("records 0 to 99 (100 records not covered by a checkpoint) are in no segment") !=
                   std::string::npos, why);
    BOOST_TEST(why.find("--accept-wal-loss") != std::string::npos, why);
    // Covered by a checkpoint at 100: nothing is missing.
    BOOST_TEST(trib::WriteAheadLog::read(dir.path, 0, 100) == numbered(100, 50), boost::test_tools::per_element());
    trib::WalLossPolicy loss{true};
    BOOST_TEST(trib::WriteAheadLog::read(dir.path, 0, 0, &loss) == numbered(100, 50), boost::test_tools::per_element());
    BOOST_TEST(loss.lost == 100);
  }
  {
    TempDir dir;
    two_segments(dir.path);
    // Cut after the fourth entry: the file ends on an entry boundary.
    std::string path = dir.path + "/wal-0-0.log";
    std::string seg = testing::slurp(path);
    std::size_t pos = 8;
    for (int e = 0; e < 4; ++e) {
      uint32_t size;
      std::memcpy(&size, seg.data() + pos, 4);
      pos += 20 + size;
    }
    std::filesystem::resize_file(path, pos);
    std::string why = refusal(dir.path, 0);
    BOOST_TEST(why.find("records 40 to 99 (60 records") != std::string::npos, why);
    BOOST_TEST(why.find(path + " ends at record 40") != std::string::npos, why);
    BOOST_TEST(refusal(dir.path, 100).empty());
    trib::WalLossPolicy loss{true};
    BOOST_TEST(trib::WriteAheadLog::read(dir.path, 0, 0, &loss) == joined(numbered(0, 40), numbered(100, 50)),
               boost::test_tools::per_element());
    BOOST_TEST(loss.lost == 60);
  }
  {
    TempDir dir;
    two_segments(dir.path);
    std::string path = dir.path + "/wal-0-100.log";
    std::filesystem::remove(path);
    std::filesystem::create_directory(path);
    std::string why = refusal(dir.path, 0);
    BOOST_TEST(why.find("write-ahead log " + path + " is not a regular file") != std::string::npos, why);
  }
}

// Records before a checkpoint's position are in its state: a log that ends
// before it (cut short) must not hand their numbers to new records, or a
// replay from that position would skip the new ones.
BOOST_AUTO_TEST_CASE(a_log_ending_before_the_checkpoint_position_numbers_new_records_after_it) {
  if (child_dir()) return;
  TempDir dir;
  {
    trib::WriteAheadLog wal(dir.path, 0);
    wal.append(numbered(0, 30));
  }
  trib::WriteAheadLog wal(dir.path, 0, 100);
  BOOST_TEST(wal.end() == 100);
  wal.append(std::vector<std::string>{"new"});
  BOOST_TEST(trib::WriteAheadLog::read(dir.path, 0, 100) == std::vector<std::string>{"new"},
             boost::test_tools::per_element());
}

// The batch positions log: entries read back in order; a torn last entry
// (a crash mid-append) is dropped and the next append follows the last good
// entry; a corrupt entry that is not a torn tail is an error naming the
// file; old entries go when no kept checkpoint needs them.
BOOST_AUTO_TEST_CASE(batch_positions_log_reads_back_drops_a_torn_tail_and_names_a_corrupt_file) {
  TempDir dir;
  auto entry = [](int64_t t, std::string start, std::string end) {
    trib::BatchPositions b;
    b.batch_time_ms = t;
    b.sources[0] = {std::move(start), std::move(end)};
    return b;
  };
  std::vector<trib::BatchPositions> want{entry(100, "0-0", "5-0"), entry(200, "5-0", "5-0"),
                                         entry(300, "5-0", "17-3")};
  BOOST_TEST(trib::BatchPositionsLog::read(dir.path).empty(), "no log yet: nothing logged");
  {
    trib::BatchPositionsLog log(dir.path);
    for (auto& b : want) log.append(b);
  }
  BOOST_TEST((trib::BatchPositionsLog::read(dir.path) == want));
  std::string path = trib::BatchPositionsLog::path_in(dir.path);
  auto size = std::filesystem::file_size(path);

  // Torn: the last entry cut in its payload, then in its header.
  for (std::size_t cut : {3u, 20u}) {
    std::filesystem::resize_file(path, size - cut);
    auto read = trib::BatchPositionsLog::read(dir.path);
    BOOST_TEST((read == std::vector<trib::BatchPositions>(want.begin(), want.begin() + 2)));
  }
  {
    trib::BatchPositionsLog log(dir.path);  // cuts the torn bytes off, appends after entry 2
    log.append(entry(400, "5-0", "20-0"));
  }
  auto after = trib::BatchPositionsLog::read(dir.path);
  BOOST_REQUIRE_EQUAL(after.size(), 3u);
  BOOST_TEST(after[2].batch_time_ms == 400);

  // Corrupt: a byte flipped in the middle entry's payload, then its header.
  std::string good;
  {
    std::ifstream in(path, std::ios::binary);
    good.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  std::size_t entry_size = (good.size() - 8) / 3;  // the three entries are the same size here
  for (std::size_t offset : {8 + entry_size + 20, 8 + entry_size + 2}) {
    std::string bad = good;
    bad[offset] ^= 0x40;
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bad;
    BOOST_CHECK_EXCEPTION(trib::BatchPositionsLog::read(dir.path), std::runtime_error,
                          [&](const std::runtime_error& e) {
                            std::string what = e.what();
                            return what.find(path) != std::string::npos &&
                                   what.find("corrupt") != std::string::npos &&
                                   what.find("byte " + std::to_string(8 + entry_size)) != std::string::npos;
                          });
    BOOST_CHECK_THROW(trib::BatchPositionsLog log(dir.path), std::runtime_error);
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc) << good;

  // Entries at or before the oldest kept checkpoint's batch go.
  {
    trib::BatchPositionsLog log(dir.path);
    log.drop_through(200);
    log.append(entry(500, "20-0", "21-0"));
  }
  auto kept = trib::BatchPositionsLog::read(dir.path);
  BOOST_REQUIRE_EQUAL(kept.size(), 2u);
  BOOST_TEST(kept[0].batch_time_ms == 400);
  BOOST_TEST(kept[1].batch_time_ms == 500);
  trib::BatchPositionsLog::discard(dir.path);
  BOOST_TEST(!std::filesystem::exists(path));
}
