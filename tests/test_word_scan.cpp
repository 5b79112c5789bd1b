// The 64-bytes-at-a-time word scanner (WordCursor, for_each_word, WordRange,
// split_words) against a plain byte-by-byte split: the same words at the same
// offsets, for words crossing 8/16/64-byte boundaries, text all whitespace or
// none, every ASCII whitespace byte and bytes >= 0x80 (never whitespace).
#define BOOST_TEST_MODULE word_scan
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

#include "bench/word_count_loop.hpp"
#include "dstream/core/text.hpp"
#include "dstream/core/word_scan.hpp"
#include "dstream/dstream.hpp"

namespace {

using Words = std::vector<std::pair<std::size_t, std::size_t>>;  // offset, length

// The oracle: one byte at a time, whitespace spelled out.
bool oracle_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}
Words oracle_words(std::string_view s) {
  Words out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && oracle_space(static_cast<unsigned char>(s[i]))) ++i;
    std::size_t start = i;
    while (i < s.size() && !oracle_space(static_cast<unsigned char>(s[i]))) ++i;
    if (i > start) out.emplace_back(start, i - start);
  }
  return out;
}

// The text copied into a heap block of exactly its size, so a read past its
// end is caught under AddressSanitizer.
std::unique_ptr<char[]> exact_copy(std::string_view s) {
  std::unique_ptr<char[]> p(new char[s.size() + (s.empty() ? 1 : 0)]);
  if (!s.empty()) std::memcpy(p.get(), s.data(), s.size());
  return p;
}

void check(std::string_view text) {
  auto copy = exact_copy(text);
  std::string_view s(copy.get(), text.size());
  Words expected = oracle_words(s);

  Words looped;
  trib::for_each_word(s.data(), s.size(), [&](std::size_t at, std::size_t n) { looped.emplace_back(at, n); });
  BOOST_TEST((looped == expected), "for_each_word differs on \"" << std::string(text) << "\"");

  Words iterated, visited;
  for (trib::Text w : trib::WordRange(s)) iterated.emplace_back(w.data() - s.data(), w.size());
  trib::WordRange(s).for_each([&](trib::Text w) { visited.emplace_back(w.data() - s.data(), w.size()); });
  BOOST_TEST((iterated == expected), "WordRange iteration differs on \"" << std::string(text) << "\"");
  BOOST_TEST((visited == expected), "WordRange::for_each differs on \"" << std::string(text) << "\"");

  std::vector<std::string> owned = trib::split_words(std::string(text));
  BOOST_REQUIRE_EQUAL(owned.size(), expected.size());
  for (std::size_t i = 0; i < owned.size(); ++i)
    BOOST_TEST(owned[i] == std::string(s.substr(expected[i].first, expected[i].second)));

  Words cursor_words;
  trib::WordCursor<true> lines(s.data(), s.size());
  std::size_t at, n;
  while (lines.next(&at, &n)) cursor_words.emplace_back(at, n);
  BOOST_TEST((cursor_words == expected), "WordCursor differs on \"" << std::string(text) << "\"");
  std::size_t newlines = 0;
  for (char c : s) newlines += c == '\n';
  BOOST_TEST(lines.newlines() == newlines);
  BOOST_TEST(trib::for_each_word<true>(s.data(), s.size(), [](std::size_t, std::size_t) {}) == newlines);
}

const char* const kSpaces[] = {" ", "\t", "\n", "\v", "\f", "\r"};

}  // namespace

BOOST_AUTO_TEST_CASE(edge_cases) {
  check("");
  check(" ");
  check("a");
  check("a b");
  check("  leading and trailing  ");
  for (std::size_t len : {1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 127, 128, 129, 200}) {
    check(std::string(len, ' '));        // all whitespace
    check(std::string(len, 'x'));        // no whitespace: one word to the end
    check(std::string(len, 'x') + " ");  // ends exactly after the word
    check(" " + std::string(len, 'x'));
  }
}

BOOST_AUTO_TEST_CASE(every_whitespace_byte_separates_words) {
  for (const char* sp : kSpaces) {
    check(std::string("one") + sp + "two" + sp + sp + "three");
    check(std::string(70, 'a') + sp + std::string(3, 'b'));
  }
  check("tab\there\rcr\fform\vvertical\nnewline\r\nwindows");
}

BOOST_AUTO_TEST_CASE(bytes_from_0x80_up_are_not_whitespace) {
  check("caf\xc3\xa9 na\xc3\xafve \xe2\x80\x83 \xf0\x9f\x98\x80");  // U+2003 EM SPACE is a word here
  std::string high;
  for (int c = 0x80; c <= 0xff; ++c) high += static_cast<char>(c);
  check(high);
  check(high + " " + high);
  check(" \x85\xa0 ");  // NEL and NBSP as bytes: not ASCII whitespace
  std::string controls;
  for (int c = 0; c < 0x21; ++c) controls += static_cast<char>(c), controls += 'x';
  check(controls);  // only the six ASCII whitespace bytes split
}

// A word placed so it crosses each boundary the scanners care about.
BOOST_AUTO_TEST_CASE(words_crossing_block_boundaries) {
  for (std::size_t boundary : {8, 16, 32, 64, 128}) {
    for (std::size_t before = 0; before <= 5; ++before) {
      for (std::size_t word = 1; word <= 20; ++word) {
        std::string s(boundary - std::min(boundary, before + 1), ' ');
        s += std::string(word, 'w');
        s += ' ';
        s += "tail";
        check(s);
        check(s.substr(0, s.size() - 5));  // the word is the last thing in the text
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(random_text_matches_the_oracle) {
  std::mt19937 rng(12345);
  const std::string alphabet = std::string("abcxyz\xc3\xa9\x80\xff-.,0") + " \t\n\v\f\r";
  for (int round = 0; round < 3000; ++round) {
    std::size_t len = std::uniform_int_distribution<std::size_t>(0, 300)(rng);
    int space_pct = std::uniform_int_distribution<int>(0, 100)(rng);
    std::string s;
    for (std::size_t i = 0; i < len; ++i) {
      bool space = std::uniform_int_distribution<int>(0, 99)(rng) < space_pct;
      std::size_t pick = space ? 16 + rng() % 6 : rng() % 16;
      s += alphabet[pick];
    }
    check(s);
  }
}

// The benchmark's loop runs on the same scanner: same word count as the oracle.
BOOST_AUTO_TEST_CASE(the_benchmark_loop_counts_the_oracles_words) {
  std::mt19937 rng(7);
  std::string text;
  for (int i = 0; i < 5000; ++i) {
    text += std::string(1 + rng() % 20, static_cast<char>('a' + rng() % 26));
    text += kSpaces[rng() % 6];
  }
  std::size_t n = text.size();
  std::string padded = text + std::string(64, ' ');  // the loop's slack
  wordloop::WordTable table;
  uint64_t lines = 0, words = 0, folded = 0, checksum = 0;
  wordloop::count_chunk(padded.data(), n, table, lines, words);
  table.fold(folded, checksum);
  BOOST_TEST(words == oracle_words(text).size());
  BOOST_TEST(folded == words);
  std::size_t newlines = 0;
  for (char c : text) newlines += c == '\n';
  BOOST_TEST(lines == newlines);
}

// A text's last block is read whole where that stays in its page: the bytes
// after the text (here never whitespace) must not join its last word, and a
// text that ends just before an unmapped page must be read without a fault.
BOOST_AUTO_TEST_CASE(a_last_block_is_read_within_its_page_only) {
  long page = sysconf(_SC_PAGESIZE);
  void* mem = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  BOOST_REQUIRE(mem != MAP_FAILED);
  char* first = static_cast<char*>(mem);
  char* end = first + page;
  BOOST_REQUIRE(mprotect(end, page, PROT_NONE) == 0);
  std::memset(first, 'x', static_cast<std::size_t>(page));
  std::mt19937 rng(3);
  for (std::size_t n = 0; n <= 200; ++n) {
    std::string text;
    for (std::size_t i = 0; i < n; ++i) text += rng() % 4 == 0 ? ' ' : static_cast<char>('a' + rng() % 26);
    for (char* at : {end - n, first + 100, first + page / 2 - n / 2}) {  // at the page's end, or with 'x' after it
      std::memcpy(at, text.data(), n);
      std::string_view s(at, n);
      Words expected = oracle_words(text), looped, cursor;
      trib::for_each_word(s.data(), s.size(), [&](std::size_t a, std::size_t k) { looped.emplace_back(a, k); });
      trib::WordCursor<> words(s.data(), s.size());
      std::size_t a, k;
      while (words.next(&a, &k)) cursor.emplace_back(a, k);
      BOOST_TEST((looped == expected), "n " << n << " at " << (at - first));
      BOOST_TEST((cursor == expected), "n " << n << " at " << (at - first));
      std::memset(at, 'x', n);
    }
  }
  munmap(mem, 2 * page);
}

// A fused chain starting with flatMap(split_words) scans lines that lie back
// to back after a newline as one text (detail::split_words_in_runs). Against
// each line split on its own: "\n" and "\r\n" endings, empty lines, lines
// held elsewhere (repaired copies), a null line, pieces of one overlong line
// with nothing between them, and views apart by one byte that is not a
// newline (which must not join).
BOOST_AUTO_TEST_CASE(back_to_back_lines_give_each_lines_words) {
  std::mt19937 rng(17);
  const std::string alphabet = "ab c\td\xc3\xa9 \r\vxyz";
  for (int round = 0; round < 300; ++round) {
    auto buffer = std::make_unique<std::string>();
    std::vector<std::string> elsewhere;
    elsewhere.reserve(64);
    struct Where { int kind; std::size_t at, len; };  // kind 0: buffer, 1: elsewhere, 2: null
    std::vector<Where> where;
    int n = std::uniform_int_distribution<int>(0, 60)(rng);
    for (int i = 0; i < n; ++i) {
      std::string line;
      int len = std::uniform_int_distribution<int>(0, 150)(rng);
      for (int c = 0; c < len; ++c) line += alphabet[rng() % alphabet.size()];
      while (!line.empty() && line.back() == '\r') line.pop_back();
      int kind = std::uniform_int_distribution<int>(0, 9)(rng);
      if (kind == 0 && elsewhere.size() < 64) {
        elsewhere.push_back(line);
        where.push_back({1, elsewhere.size() - 1, line.size()});
        continue;
      }
      if (kind == 1) {
        where.push_back({2, 0, 0});
        continue;
      }
      if (kind == 2 && line.size() > 2) {  // an overlong line cut in two pieces, back to back
        std::size_t cut = line.size() / 2;
        where.push_back({0, buffer->size(), cut});
        where.push_back({0, buffer->size() + cut, line.size() - cut});
      } else {
        where.push_back({0, buffer->size(), line.size()});
      }
      *buffer += line;
      int end = std::uniform_int_distribution<int>(0, 5)(rng);
      *buffer += end == 0 ? "\r\n" : end == 1 ? "x" : "\n";
    }
    std::vector<trib::Text> lines;
    for (const auto& w : where) {
      if (w.kind == 0) lines.emplace_back(buffer->data() + w.at, w.len);
      else if (w.kind == 1) lines.emplace_back(elsewhere[w.at].data(), w.len);
      else lines.emplace_back();
    }
    std::vector<std::string> want;
    for (const auto& line : lines)
      for (auto [at, len] : oracle_words(std::string_view(line.data(), line.size())))
        want.emplace_back(line.data() + at, len);
    // The step after split_words runs on every word: a map to (word, length).
    using Pair = std::pair<trib::Text, std::size_t>;
    auto to_pair = [](const trib::Text& w) { return Pair(w, w.size()); };
    trib::detail::Then<trib::detail::FlatMapStep<trib::SplitWords>, trib::detail::MapStep<decltype(to_pair)>> step{
        {trib::split_words}, {to_pair}};
    static_assert(trib::detail::SplitsWordsFirst<decltype(step)>::value);
    std::vector<std::string> got;
    trib::detail::split_words_in_runs(step, lines.data(), lines.size(), [&](const Pair& p) {
      BOOST_TEST(p.second == p.first.size());
      got.emplace_back(p.first.data(), p.first.size());
    });
    BOOST_TEST((got == want), "round " << round);
  }
}


// The reader's newline count (count_newlines and both of its versions)
// against a byte-by-byte count: every length up to a few blocks at every
// alignment, newline densities from none to all (a lane holds 255 before it
// is summed), with and without bytes >= 0x80 anywhere, the tail included.
BOOST_AUTO_TEST_CASE(newline_counts_match_a_byte_by_byte_count) {
  std::mt19937 rng(777);
  using Count = std::size_t (*)(const char*, std::size_t, bool*);
  std::vector<std::pair<const char*, Count>> versions = {{"count_newlines", trib::count_newlines},
                                                         {"sse2", trib::count_newlines_sse2}};
#if defined(TRIB_HAVE_AVX2_VERSIONS)
  if (trib::cpu_has_avx2()) versions.push_back({"avx2", trib::count_newlines_avx2});
#endif
  auto check = [&](const std::string& s, std::size_t offset) {
    std::string_view text(s.data() + offset, s.size() - offset);
    std::size_t want = 0;
    bool want_high = false;
    for (unsigned char c : text) {
      want += c == '\n';
      want_high |= c >= 0x80;
    }
    for (auto& [name, count] : versions) {
      bool high = !want_high;  // must be overwritten
      std::size_t got = count(text.data(), text.size(), &high);
      BOOST_TEST_CONTEXT(name << " over " << text.size() << " bytes at offset " << offset) {
        BOOST_TEST(got == want);
        BOOST_TEST(high == want_high);
      }
    }
  };
  for (int round = 0; round < 2000; ++round) {
    std::size_t len = std::uniform_int_distribution<std::size_t>(0, 200)(rng);
    int nl_pct = std::uniform_int_distribution<int>(0, 100)(rng);
    bool with_high = rng() % 3 == 0;
    std::string s;
    for (std::size_t i = 0; i < len; ++i) {
      if (std::uniform_int_distribution<int>(0, 99)(rng) < nl_pct) s += '\n';
      else if (with_high && rng() % 50 == 0) s += '\xc3';
      else s += static_cast<char>('a' + rng() % 26);
    }
    for (std::size_t offset = 0; offset < std::min<std::size_t>(s.size() + 1, 33); ++offset) check(s, offset);
  }
  // Long runs: lanes summed before they overflow, a high byte only at the very end.
  for (std::size_t len : {255u * 32, 255u * 32 + 1, 255u * 64 + 31, 100000u}) {
    std::string all(len, '\n');
    check(all, 0);
    all.back() = '\x80';
    check(all, 0);
    check(all, 7);
  }
}
