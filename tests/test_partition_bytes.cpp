// Partitions as bytes: what crosses processes and goes into checkpoints.
// The oracle is Cereal's own archives over standard string streams: the
// bytes must be identical to theirs, and records read back as views
// (dstream/core/view_decode.hpp) must equal what Cereal's reader decodes
// into owned records. Corrupt bytes fail with cereal::Exception.
#define BOOST_TEST_MODULE partition_bytes
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <random>
#include <sstream>
#include <thread>
#include <string>
#include <utility>
#include <vector>

#include <cereal/archives/binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/vector.hpp>

#include "dstream/core/cereal_bytes.hpp"
#include "dstream/core/partition_codec.hpp"
#include "dstream/core/text_block.hpp"

namespace {

// Strings of every length class, multi-byte UTF-8 and embedded NULs included.
std::vector<std::string> make_strings(std::mt19937& rng, int n) {
  std::vector<std::string> out;
  std::uniform_int_distribution<int> len(0, 40), byte(0, 255);
  for (int i = 0; i < n; ++i) {
    std::string s(static_cast<std::size_t>(len(rng)), '\0');
    for (auto& c : s) c = static_cast<char>(byte(rng));
    if (i % 7 == 0) s = "é€𝄞 " + s;
    out.push_back(std::move(s));
  }
  return out;
}

template <class T>
std::string cereal_oracle_bytes(const std::vector<T>& rows) {
  std::ostringstream out;
  {
    cereal::BinaryOutputArchive archive(out);
    archive(rows);
  }
  return out.str();
}

template <class T>
std::vector<trib::owned_t<T>> cereal_oracle_decode(const std::string& bytes) {
  std::istringstream in(bytes);
  cereal::BinaryInputArchive archive(in);
  std::vector<trib::owned_t<T>> rows;
  archive(rows);
  return rows;
}

// Encodes rows through a Partition, decodes the bytes as a fresh partition
// after the original strings are gone, and checks both against Cereal.
template <class T, class MakeRow>
void check_round_trip(MakeRow make_row) {
  std::mt19937 rng(7);
  auto strings = std::make_unique<std::vector<std::string>>(make_strings(rng, 500));
  std::vector<T> rows;
  for (std::size_t i = 0; i < strings->size(); ++i) rows.push_back(make_row((*strings)[i], i));
  std::string bytes = trib::Partition::of(rows).encode();
  BOOST_TEST(bytes == cereal_oracle_bytes(rows));
  auto expected = cereal_oracle_decode<T>(bytes);
  strings.reset();  // the records' original bytes are gone: views must not point there
  rows.clear();

  auto decoded = trib::Partition::from_bytes(std::move(bytes));
  const auto& back = decoded.rows<T>();
  BOOST_REQUIRE_EQUAL(back.size(), expected.size());
  for (std::size_t i = 0; i < back.size(); ++i)
    BOOST_TEST((trib::owned<T>::view(expected[i]) == back[i]), "record " << i);
}

}  // namespace

BOOST_AUTO_TEST_CASE(text_lines_decode_as_views_equal_to_cereals_strings) {
  check_round_trip<trib::Text>([](const std::string& s, std::size_t) { return trib::Text(s.data(), s.size()); });
}

BOOST_AUTO_TEST_CASE(keyed_records_of_every_layout_decode_equal_to_cereal) {
  check_round_trip<std::pair<trib::Text, int64_t>>([](const std::string& s, std::size_t i) {
    return std::pair<trib::Text, int64_t>(trib::Text(s.data(), s.size()), static_cast<int64_t>(i) * -977);
  });
  check_round_trip<std::pair<trib::Text, double>>([](const std::string& s, std::size_t i) {
    return std::pair<trib::Text, double>(trib::Text(s.data(), s.size()), 1.0 / (static_cast<double>(i) + 3));
  });
  check_round_trip<std::pair<int32_t, trib::Text>>([](const std::string& s, std::size_t i) {
    return std::pair<int32_t, trib::Text>(static_cast<int32_t>(i), trib::Text(s.data(), s.size()));
  });
  check_round_trip<std::pair<trib::Text, std::string>>([](const std::string& s, std::size_t i) {
    return std::pair<trib::Text, std::string>(trib::Text(s.data(), s.size()), std::to_string(i) + s);
  });
  // A layout the view reader does not cover goes through the owned form.
  check_round_trip<std::pair<trib::Text, std::vector<int64_t>>>([](const std::string& s, std::size_t i) {
    return std::pair<trib::Text, std::vector<int64_t>>(trib::Text(s.data(), s.size()),
                                                       std::vector<int64_t>(i % 4, static_cast<int64_t>(i)));
  });
}

BOOST_AUTO_TEST_CASE(cut_or_corrupt_partition_bytes_fail_with_a_cereal_exception) {
  using Keyed = std::pair<trib::Text, int64_t>;
  std::vector<Keyed> rows = {{trib::Text("alpha"), 1}, {trib::Text("beta"), 2}};
  std::string bytes = trib::Partition::of(rows).encode();
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    auto p = trib::Partition::from_bytes(bytes.substr(0, cut));
    BOOST_CHECK_THROW(p.rows<Keyed>(), cereal::Exception);
  }
  // A record count far beyond the bytes must not be trusted (no huge reserve).
  std::string huge = bytes;
  huge[7] = '\x7f';
  BOOST_CHECK_THROW(trib::Partition::from_bytes(huge).rows<Keyed>(), cereal::Exception);
  // A string length past the end.
  std::string long_key = bytes;
  long_key[8] = '\x70';
  BOOST_CHECK_THROW(trib::Partition::from_bytes(long_key).rows<Keyed>(), cereal::Exception);
}

BOOST_AUTO_TEST_CASE(cereal_bytes_helpers_write_and_read_what_cereals_streams_do) {
  std::mt19937 rng(11);
  auto strings = make_strings(rng, 300);
  int64_t number = -42;
  std::string bytes = trib::to_cereal_bytes(strings, number);
  std::ostringstream oracle;
  {
    cereal::BinaryOutputArchive archive(oracle);
    archive(strings, number);
  }
  BOOST_TEST(bytes == oracle.str());
  std::vector<std::string> back;
  int64_t number_back = 0;
  trib::from_cereal_bytes(bytes, back, number_back);
  BOOST_TEST(back == strings);
  BOOST_TEST(number_back == number);
  std::vector<std::string> cut;
  BOOST_CHECK_THROW(trib::from_cereal_bytes(bytes.substr(0, bytes.size() / 2), cut), cereal::Exception);
}

// A concatenation (a receiver's chunks of one interval) reads its parts in
// runs, in order, without joining them; joined, encoded and detached it
// equals one partition of all the records, and the bytes are Cereal's.
BOOST_AUTO_TEST_CASE(a_concatenation_reads_as_its_parts_in_order) {
  std::mt19937 rng(5);
  auto strings = make_strings(rng, 300);
  std::vector<std::vector<trib::Text>> runs(4);
  for (std::size_t i = 0; i < strings.size(); ++i)
    if (i % 97 != 0 || i == 0) runs[i < 100 ? 0 : i < 250 ? 2 : 3].emplace_back(strings[i].data(), strings[i].size());
  std::vector<trib::Text> all;  // run 1 stays empty
  std::vector<trib::Partition> parts;
  for (auto& r : runs) {
    all.insert(all.end(), r.begin(), r.end());
    parts.push_back(trib::Partition::of(r));
  }
  trib::Partition joined = trib::Partition::concat<trib::Text>(parts);
  BOOST_TEST(joined.size() == all.size());
  BOOST_TEST(!joined.known_empty());
  std::vector<std::size_t> seen;
  std::vector<trib::Text> in_runs;
  joined.for_each_run<trib::Text>([&](const std::vector<trib::Text>& rows) {
    seen.push_back(rows.size());
    in_runs.insert(in_runs.end(), rows.begin(), rows.end());
  });
  BOOST_TEST((seen == std::vector<std::size_t>{runs[0].size(), 0, runs[2].size(), runs[3].size()}));
  BOOST_TEST((in_runs == all));
  BOOST_TEST(joined.encode() == cereal_oracle_bytes(std::vector<std::string>(all.begin(), all.end())));
  BOOST_TEST((trib::Partition(joined).rows<trib::Text>() == all));
  trib::Partition copy = trib::Partition::concat<trib::Text>(parts).detached();
  BOOST_TEST((copy.rows<trib::Text>() == all));
  BOOST_TEST(trib::Partition::concat<trib::Text>({}).known_empty());
  // A part still in bytes (from another process) may hold records: not known empty.
  std::vector<trib::Partition> with_bytes{trib::Partition::of(std::vector<trib::Text>{}),
                                          trib::Partition::from_bytes(joined.encode())};
  trib::Partition mixed = trib::Partition::concat<trib::Text>(with_bytes);
  BOOST_TEST(!mixed.known_empty());
  BOOST_TEST((mixed.rows<trib::Text>() == all));
}

namespace {
std::atomic<int> cuts{0};
std::shared_ptr<const trib::PartitionBase> counting_cut(const trib::LineRun& run) {
  ++cuts;
  return trib::cut_line_run_rows(run);
}
}  // namespace

// Uncut lines are cut once for every copy of the handle, and a
// concatenation of them (what a window keeps) may be read from two threads
// at once: a task and the coordinator did, and one freed the rows the other
// was reading. Each thread sees the same rows, the lines of the text.
BOOST_AUTO_TEST_CASE(uncut_lines_are_cut_once_for_all_copies_and_threads) {
  std::string text;
  std::vector<std::string> lines;
  for (int i = 0; i < 2000; ++i) {
    lines.push_back("line " + std::to_string(i) + " of some words");
    text += lines.back() + (i % 3 ? "\n" : "\r\n");
  }
  std::size_t half = text.find('\n', text.size() / 2) + 1;
  std::size_t half_lines = static_cast<std::size_t>(std::count(text.begin(), text.begin() + half, '\n'));
  for (int round = 0; round < 200; ++round) {
    cuts = 0;
    trib::Partition first = trib::Partition::uncut_lines({text.data(), half, half_lines}, &counting_cut);
    trib::Partition second = trib::Partition::uncut_lines(
        {text.data() + half, text.size() - half, lines.size() - half_lines}, &counting_cut);
    trib::Partition window = trib::Partition::concat<trib::Text>({first, second});
    std::vector<const std::vector<trib::Text>*> seen[2];
    std::vector<std::string> read[2];
    auto reader = [&](int t) {
      trib::Partition mine = window;  // each actor gets its own copy of the handle
      mine.for_each_run<trib::Text>([&](const std::vector<trib::Text>& rows) {
        seen[t].push_back(&rows);
        for (const auto& r : rows) read[t].emplace_back(r);
      });
    };
    std::thread other(reader, 1);
    reader(0);
    other.join();
    BOOST_TEST_REQUIRE(cuts.load() == 2, "round " << round << ": " << cuts.load() << " cuts of 2 parts");
    BOOST_TEST_REQUIRE((seen[0] == seen[1]));
    BOOST_TEST_REQUIRE((read[0] == lines));
    BOOST_TEST_REQUIRE((read[1] == lines));
    BOOST_TEST_REQUIRE((first.rows<trib::Text>().data() == seen[0][0]->data()));  // the copy outside too
  }
}
