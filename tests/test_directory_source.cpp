// textFileStream against the files a test moves into a real directory, and
// the UTF-8 repair every text source uses.
#define BOOST_TEST_MODULE directory_source
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "io/directory_source.hpp"
#include "io/utf8.hpp"
#include "job_helpers.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;

namespace {

using Lines = std::vector<std::string>;

// Writes the file under a staging name, then renames it into place, as a
// producer should.
void move_in(const std::string& dir, const std::string& name, const Lines& lines) {
  std::string staging = dir + "/_" + name + ".tmp";
  {
    std::ofstream out(staging);
    for (auto& l : lines) out << l << "\n";
  }
  fs::rename(staging, dir + "/" + name);
}

Lines lines_of(const std::string& file, int n) {
  Lines lines;
  for (int i = 0; i < n; ++i) lines.push_back(file + " line " + std::to_string(i));
  return lines;
}

Lines all_records(const testing::Collector<std::string>& c) {
  Lines out;
  for (auto& [t, rows] : c.get()) out.insert(out.end(), rows.begin(), rows.end());
  return out;
}

void wait_for_records(const testing::Collector<std::string>& c, std::size_t n) {
  testing::eventually([&] { return all_records(c).size() >= n; });
}

}  // namespace

BOOST_AUTO_TEST_CASE(each_file_moved_in_is_read_once_in_arrival_order) {
  testing::TempDir dir;
  trib::StreamingOptions opts;
  opts.partitions = 3;
  trib::StreamingContext ssc(std::chrono::milliseconds(30), opts);
  auto records = testing::collect(ssc.textFileStream(dir.path));
  ssc.start();
  Lines sent;
  for (int f = 0; f < 6; ++f) {
    std::string name = "part" + std::to_string(f) + ".txt";
    auto lines = lines_of(name, 20 + f * 7);
    // A file still being written (staging name) is not read.
    std::ofstream(dir.path + "/.inflight") << "not yet\n";
    move_in(dir.path, name, lines);
    sent.insert(sent.end(), lines.begin(), lines.end());
    wait_for_records(*records, sent.size());
    BOOST_REQUIRE_EQUAL(all_records(*records).size(), sent.size());
  }
  BOOST_REQUIRE(ssc.awaitBatches(ssc.completedBatchCount() + 3, std::chrono::seconds(30)));
  ssc.stop(true);
  BOOST_TEST(all_records(*records) == sent, "every line once, files in arrival order");
  // A file is never split across batches: each batch ends with a file's last line.
  for (auto& [t, rows] : records->get()) {
    if (rows.empty()) continue;
    const std::string& last = rows.back();
    int f = std::stoi(last.substr(4, last.find('.') - 4));
    BOOST_TEST(last == lines_of("part" + std::to_string(f) + ".txt", 20 + f * 7).back());
  }
}

BOOST_AUTO_TEST_CASE(a_restarted_job_does_not_read_a_file_again) {
  testing::TempDir dir, ckpt;
  std::string in = dir.path;
  auto run = [&](int batches) {
    std::shared_ptr<testing::Collector<std::string>> records;
    auto ssc = trib::StreamingContext::getOrCreate(ckpt.path, [&] {
      auto s = std::make_unique<trib::StreamingContext>(std::chrono::milliseconds(30));
      records = testing::collect(s->textFileStream(in));
      return s;
    });
    testing::run_batches(*ssc, static_cast<std::size_t>(batches));
    return all_records(*records);
  };
  move_in(in, "a.txt", lines_of("a", 5));
  move_in(in, "b.txt", lines_of("b", 5));
  auto first = run(3);
  BOOST_TEST(first.size() == 10u);
  move_in(in, "c.txt", lines_of("c", 4));
  auto second = run(3);
  BOOST_TEST(second == lines_of("c", 4));
}

BOOST_AUTO_TEST_CASE(invalid_utf8_is_replaced_not_dropped) {
  std::string ok = "plain ascii";
  BOOST_TEST(trib::sanitize_utf8(ok) == 0u);
  std::string good = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x8C\x8A";  // é € 🌊
  std::string copy = good;
  BOOST_TEST(trib::sanitize_utf8(copy) == 0u);
  BOOST_TEST(copy == good);
  std::string bad = "a\xFF" "b\xC0\xAF" "c\xED\xA0\x80" "d\xE2\x82";  // junk, overlong, surrogate, cut
  BOOST_TEST(trib::sanitize_utf8(bad) == 8u);
  BOOST_TEST(bad == "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD" "c\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                    "d\xEF\xBF\xBD\xEF\xBF\xBD");

  testing::TempDir dir;
  trib::StreamingContext ssc(std::chrono::milliseconds(20));
  auto records = testing::collect(ssc.textFileStream(dir.path));
  std::ofstream(dir.path + "/_latin1") << "na\xEFve\nfine\n";
  fs::rename(dir.path + "/_latin1", dir.path + "/latin1.txt");
  ssc.start();
  wait_for_records(*records, 2);
  ssc.stop(true);
  BOOST_TEST((all_records(*records) == Lines{"na\xEF\xBF\xBDve", "fine"}));
}

namespace {

// Sets a file's modification time to `ms` since the epoch.
void set_mtime(const std::string& path, int64_t ms) {
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = ms / 1000;
  times[0].tv_nsec = times[1].tv_nsec = (ms % 1000) * 1000000;
  BOOST_REQUIRE(utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

std::size_t lines_in(const std::string& position) {
  return static_cast<std::size_t>(std::count(position.begin(), position.end(), '\n'));
}

std::size_t records_of(trib::DirectorySource& src) {
  trib::Dataset out;
  src.poll(0, out);
  std::size_t n = 0;
  for (auto& p : out) n += p.size();
  return n;
}

}  // namespace

// What the source remembers (its position, kept in checkpoints) stays
// bounded over a long run: files beyond the remember window, and files that
// left the directory, are forgotten, and are never read twice.
BOOST_AUTO_TEST_CASE(the_files_remembered_stay_bounded) {
  testing::TempDir dir;
  trib::DirectorySource src(dir.path, 2, std::chrono::seconds(60));
  const int64_t t0 = 1700000000000;
  std::size_t read = 0, most_remembered = 0;
  // 300 files, one per simulated 10 s, each kept in the directory.
  for (int f = 0; f < 300; ++f) {
    std::string path = dir.path + "/f" + std::to_string(f);
    std::ofstream(path) << "a\nb\n";
    set_mtime(path, t0 + f * 10000);
    read += records_of(src);
    most_remembered = std::max(most_remembered, lines_in(src.position()));
  }
  BOOST_TEST(read == 600u, "every file read once");
  BOOST_TEST(most_remembered <= 8u, "at most the files of the last 60 s (+1) are remembered");
  BOOST_TEST(records_of(src) == 0u, "forgotten files are not read again");
  // A restarted source (from the position) reads nothing old either.
  trib::DirectorySource again(dir.path, 2, std::chrono::seconds(60));
  again.seek(src.position());
  BOOST_TEST(records_of(again) == 0u);
  // A file moved in with an old modification time is beyond the window: ignored.
  std::string old = dir.path + "/late";
  std::ofstream(old) << "x\n";
  set_mtime(old, t0);
  BOOST_TEST(records_of(src) == 0u);
  set_mtime(old, t0 + 300 * 10000);  // touched: read
  BOOST_TEST(records_of(src) == 1u);
  // Files removed from the directory are forgotten at once.
  for (int f = 0; f < 300; ++f) fs::remove(dir.path + "/f" + std::to_string(f));
  records_of(src);
  BOOST_TEST(lines_in(src.position()) == 1u);
}
