// The tables behind reduceByKey's combine, against std::map over the same
// records: every key once, every value merged, the carried hash equal to a
// fresh hash_key, and a drained table reusable.
#define BOOST_TEST_MODULE combine_table
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

#include "dstream/combine_table.hpp"
#include "dstream/core/partition.hpp"
#include "dstream/core/partition_codec.hpp"

namespace {

// Keys of every length class the text table treats apart: empty, 1-15
// bytes (held in the slot with their length), 16 and longer (compared
// through the pointer), with shared prefixes so inline bytes alone would not
// tell some apart, and trailing NUL bytes so only the length does.
std::vector<std::string> make_keys(std::mt19937& rng, int n) {
  std::vector<std::string> keys{""};
  for (std::size_t len : {1, 2, 7, 8, 14, 15, 16}) {
    std::string k(len, 'q');
    keys.push_back(k + std::string(1, '\0'));
    keys.push_back(k + std::string(2, '\0'));
    keys.push_back(k);
  }
  std::uniform_int_distribution<int> len(1, 40), ch('a', 'c');
  for (int i = 0; i < n; ++i) {
    std::string k(static_cast<std::size_t>(len(rng)), 'a');
    for (auto& c : k) c = static_cast<char>(ch(rng));
    keys.push_back(k);
    if (k.size() > 16) keys.push_back(k.substr(0, 16) + "x" + k.substr(17));  // same first 16
  }
  return keys;
}

template <class Table, class K>
void check_against_map(Table& table, const std::vector<std::string>& keys,
                       const std::vector<K>& views, std::mt19937& rng, int records) {
  std::map<std::string, int64_t> expected;
  std::uniform_int_distribution<std::size_t> pick(0, views.size() - 1);
  std::uniform_int_distribution<int64_t> value(-5, 100);
  for (int i = 0; i < records; ++i) {
    std::size_t k = pick(rng);
    int64_t v = value(rng);
    expected[keys[k]] += v;
    if (i % 2) table.merge(views[k], trib::hash_key(views[k]), v, std::plus<int64_t>());
    else table.merge(views[k], v, std::plus<int64_t>());  // the table hashes the key itself
  }
  std::vector<std::pair<K, int64_t>> rows;
  std::vector<uint64_t> hashes;
  table.drain(rows, hashes);
  BOOST_REQUIRE_EQUAL(rows.size(), hashes.size());
  std::map<std::string, int64_t> got;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    BOOST_TEST(got.count(std::string(rows[i].first)) == 0u, "key twice: " << std::string(rows[i].first));
    got[std::string(rows[i].first)] = rows[i].second;
    BOOST_TEST(hashes[i] == trib::hash_key(rows[i].first));
  }
  BOOST_TEST((got == expected));
}

}  // namespace

BOOST_AUTO_TEST_CASE(text_table_matches_a_map_and_is_reusable_after_drain) {
  std::mt19937 rng(7);
  auto keys = make_keys(rng, 5000);
  std::vector<trib::Text> views;
  for (auto& k : keys) views.emplace_back(k.data(), k.size());
  trib::CombineTableFor<trib::Text, int64_t> table;
  for (int round = 0; round < 3; ++round) check_against_map(table, keys, views, rng, 60000);
}

// drain_copying_keys (the map side's drain): the same keys, values and
// hashes as a map, but each key's bytes in the returned buffer, so they
// survive the input being overwritten; after a table of many keys (drained
// by a scan) and of few in its storage (drained by its list).
BOOST_AUTO_TEST_CASE(drain_copying_keys_owns_every_key) {
  std::mt19937 rng(11);
  trib::TextCombineTable<int64_t> table;
  for (int keys_wanted : {4000, 30}) {
    auto keys = make_keys(rng, keys_wanted);
    std::vector<std::string> input = keys;  // what the views point into, overwritten below
    std::map<std::string, int64_t> expected;
    for (int i = 0; i < 20000; ++i) {
      std::size_t k = rng() % input.size();
      int64_t v = static_cast<int64_t>(rng() % 50) - 10;
      expected[keys[k]] += v;
      table.merge(trib::Text(input[k].data(), input[k].size()), v, std::plus<int64_t>());
    }
    std::vector<std::pair<trib::Text, int64_t>> rows;
    std::vector<uint64_t> hashes;
    std::shared_ptr<char[]> owned = table.drain_copying_keys(rows, hashes);
    BOOST_REQUIRE(owned);
    BOOST_REQUIRE_EQUAL(rows.size(), hashes.size());
    std::size_t owned_bytes = 0;
    for (const auto& kv : expected) owned_bytes += kv.first.size();
    for (auto& k : input) std::fill(k.begin(), k.end(), 'z');
    std::map<std::string, int64_t> got;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const char* at = rows[i].first.data();
      BOOST_TEST((at >= owned.get() && at + rows[i].first.size() <= owned.get() + owned_bytes),
                 "key " << i << " is not in the drained keys' buffer");
      got[std::string(rows[i].first)] = rows[i].second;
      BOOST_TEST(hashes[i] == trib::hash_key(rows[i].first));
    }
    BOOST_TEST((got == expected));
  }
}

// merge_all (the map side's path, hashing and prefetching ahead) over runs
// of records of every length, including runs shorter than its lookahead.
BOOST_AUTO_TEST_CASE(merge_all_matches_a_map) {
  std::mt19937 rng(9);
  auto keys = make_keys(rng, 3000);
  std::vector<std::pair<trib::Text, int64_t>> records;
  std::map<std::string, int64_t> expected;
  for (int i = 0; i < 50000; ++i) {
    const auto& k = keys[rng() % keys.size()];
    int64_t v = static_cast<int64_t>(rng() % 100);
    records.emplace_back(trib::Text(k.data(), k.size()), v);
    expected[k] += v;
  }
  trib::CombineTableFor<trib::Text, int64_t> table;
  for (std::size_t at = 0, run = 0; at < records.size(); at += run) {
    run = std::min<std::size_t>(rng() % 300, records.size() - at);
    table.merge_all(records.data() + at, run, std::plus<int64_t>());
  }
  std::vector<std::pair<trib::Text, int64_t>> rows;
  std::vector<uint64_t> hashes;
  table.drain(rows, hashes);
  std::map<std::string, int64_t> got;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    got[std::string(rows[i].first)] += rows[i].second;
    BOOST_TEST(hashes[i] == trib::hash_key(rows[i].first));
  }
  BOOST_TEST((got == expected));
}

// A table starts in the storage the thread's previous table left: whatever
// that table held (drained or not) must not show up in the next one, with
// few keys in big storage (drained by its list of filled slots) or many
// (drained by a scan), and keys overlapping the previous table's or not.
BOOST_AUTO_TEST_CASE(a_table_in_recycled_storage_holds_only_its_own_keys) {
  std::mt19937 rng(10);
  auto keys = make_keys(rng, 40000);
  std::vector<trib::Text> views;
  for (auto& k : keys) views.emplace_back(k.data(), k.size());
  auto fill = [&](trib::CombineTableFor<trib::Text, int64_t>& table, std::size_t from, std::size_t n,
                  std::map<std::string, int64_t>& expected) {
    for (std::size_t i = 0; i < 3 * n; ++i) {
      std::size_t k = from + rng() % n;
      int64_t v = static_cast<int64_t>(rng() % 50) + 1;
      expected[keys[k]] += v;
      table.merge(views[k], v, std::plus<int64_t>());
    }
  };
  auto drained = [](trib::CombineTableFor<trib::Text, int64_t>& table) {
    std::vector<std::pair<trib::Text, int64_t>> rows;
    std::vector<uint64_t> hashes;
    table.drain(rows, hashes);
    std::map<std::string, int64_t> got;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      BOOST_TEST(got.count(std::string(rows[i].first)) == 0u);
      got[std::string(rows[i].first)] = rows[i].second;
      BOOST_TEST(hashes[i] == trib::hash_key(rows[i].first));
    }
    return got;
  };
  struct Case {
    std::size_t before_from, before_keys;  // the previous table's keys
    bool before_drained;
    std::size_t from, n;                   // this table's keys
  };
  for (Case c : {Case{0, 30000, true, 0, 20},         // few keys, all seen before, in big storage
                 Case{0, 30000, false, 10, 40},       // the previous table never drained
                 Case{0, 30000, false, 0, 25000},     // many keys: drained by a scan
                 Case{20000, 5000, true, 0, 30000},   // storage too small: a bigger table
                 Case{0, 30000, false, 30000, 9000}}) {  // no key in common
    {
      trib::CombineTableFor<trib::Text, int64_t> before;
      std::map<std::string, int64_t> ignored;
      fill(before, c.before_from, c.before_keys, ignored);
      if (c.before_drained) drained(before);
    }
    trib::CombineTableFor<trib::Text, int64_t> table;
    std::map<std::string, int64_t> expected;
    fill(table, c.from, c.n, expected);
    BOOST_TEST((drained(table) == expected), "case from " << c.from << " n " << c.n);
    // And once more in the same table, after its drain.
    std::map<std::string, int64_t> again;
    fill(table, c.from, c.n, again);
    BOOST_TEST((drained(table) == again));
  }
}

BOOST_AUTO_TEST_CASE(string_table_matches_a_map_and_is_reusable_after_drain) {
  std::mt19937 rng(8);
  auto keys = make_keys(rng, 3000);
  trib::CombineTableFor<std::string, int64_t> table;
  for (int round = 0; round < 2; ++round) check_against_map(table, keys, keys, rng, 40000);
}

BOOST_AUTO_TEST_CASE(short_text_is_exact_for_every_length_up_to_16) {
  // Two texts differing in any one byte must differ as ShortText.
  std::string base = "abcdefghijklmnop";
  for (std::size_t n = 0; n <= 16; ++n)
    for (std::size_t i = 0; i < n; ++i) {
      std::string other = base.substr(0, n);
      other[i] = 'Z';
      BOOST_TEST(!(trib::short_text(base.substr(0, n)) == trib::short_text(other)), n << "/" << i);
    }
}

BOOST_AUTO_TEST_CASE(short_text_ignores_the_bytes_after_the_text) {
  // short_text reads 16 bytes whatever the length: the same word followed by
  // different bytes must give the same ShortText and hash.
  std::string x = "abcdefghijklmnopqrstuvwxyz", y = "abcdefghijklmnopQRSTUVWXYZ";
  for (std::size_t n = 0; n <= 16; ++n)
    for (std::size_t tail = 0; tail + n <= 16; ++tail) {
      std::string a = x.substr(0, n) + y.substr(n, tail), b = x.substr(0, n) + x.substr(n, tail);
      auto ka = trib::short_text(std::string_view(a).substr(0, n));
      auto kb = trib::short_text(std::string_view(b).substr(0, n));
      BOOST_TEST((ka == kb), n << "+" << tail);
      BOOST_TEST(trib::hash_text(ka, std::string_view(a).substr(0, n)) ==
                 trib::hash_text(kb, std::string_view(b).substr(0, n)));
    }
}

BOOST_AUTO_TEST_CASE(short_text_never_reads_into_an_unmapped_page) {
  // Words that end at the last byte of a page whose successor is not
  // mapped: reading 16 bytes from them would fault.
  long page = sysconf(_SC_PAGESIZE);
  void* mem = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  BOOST_REQUIRE(mem != MAP_FAILED);
  char* end = static_cast<char*>(mem) + page;
  BOOST_REQUIRE(mprotect(end, page, PROT_NONE) == 0);
  std::string word = "0123456789abcdef";
  for (std::size_t n = 0; n <= 16; ++n) {
    std::memcpy(end - n, word.data(), n);
    std::string copy = word.substr(0, n) + std::string(16, 'x');  // slack after a copy
    BOOST_TEST((trib::short_text(std::string_view(end - n, n)) ==
                trib::short_text(std::string_view(copy).substr(0, n))), n);
  }
  munmap(mem, 2 * page);
}

BOOST_AUTO_TEST_CASE(text_records_cross_processes_as_strings_and_stay_valid) {
  // Encoded once, decoded as owned strings that the new partition keeps.
  std::vector<std::string> owned = {"alpha", "", "a much longer line than sixteen bytes"};
  std::vector<std::pair<trib::Text, int64_t>> rows;
  for (std::size_t i = 0; i < owned.size(); ++i)
    rows.emplace_back(trib::Text(owned[i].data(), owned[i].size()), static_cast<int64_t>(i));
  auto bytes = trib::Partition::of(rows).encode();
  owned.clear();  // the original bytes are gone
  auto decoded = trib::Partition::from_bytes(bytes);
  const auto& back = decoded.rows<std::pair<trib::Text, int64_t>>();
  BOOST_REQUIRE_EQUAL(back.size(), 3u);
  BOOST_TEST(std::string(back[0].first) == "alpha");
  BOOST_TEST(std::string(back[1].first).empty());
  BOOST_TEST(std::string(back[2].first) == "a much longer line than sixteen bytes");
  BOOST_TEST(back[2].second == 2);
}

// Seeded data (generated lines, sensor readings, benchmark words) is drawn
// from splitmix64: it must stay the published SplitMix64 sequence.
BOOST_AUTO_TEST_CASE(splitmix64_is_the_published_sequence) {
  uint64_t state = 0;
  BOOST_TEST(trib::splitmix64_next(state) == 0xe220a8397b1dcdafULL);
  BOOST_TEST(trib::splitmix64_next(state) == 0x6e789e6aa1b965f4ULL);
  BOOST_TEST(trib::splitmix64_next(state) == 0x06c45d188009454fULL);
  BOOST_TEST(trib::splitmix64(0) == 0xe220a8397b1dcdafULL);  // the step's value without the state
}
