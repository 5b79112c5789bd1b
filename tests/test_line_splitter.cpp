// Lines split across TCP reads must come out whole, exactly once.
#define BOOST_TEST_MODULE line_splitter
#include <boost/test/unit_test.hpp>

#include <random>
#include <string>
#include <vector>

#include "io/line_splitter.hpp"

namespace {

std::vector<std::string> random_lines(std::mt19937& rng, int n) {
  std::uniform_int_distribution<int> len(0, 40), ch('a', 'z');
  std::vector<std::string> lines;
  for (int i = 0; i < n; ++i) {
    std::string s;
    for (int j = len(rng); j > 0; --j) s += static_cast<char>(ch(rng));
    lines.push_back(s);
  }
  return lines;
}

// Feeds `bytes` to a splitter in random chunks of 1..max_chunk bytes.
std::vector<std::string> split_in_chunks(const std::string& bytes, std::mt19937& rng,
                                         int max_chunk) {
  trib::LineSplitter splitter;
  std::vector<std::string> out;
  std::uniform_int_distribution<int> chunk(1, max_chunk);
  for (std::size_t pos = 0; pos < bytes.size();) {
    std::size_t n = std::min<std::size_t>(chunk(rng), bytes.size() - pos);
    splitter.feed(bytes.data() + pos, n, out);
    pos += n;
  }
  splitter.finish(out);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(random_chunking_reassembles_every_line) {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    auto lines = random_lines(rng, 500);
    std::string bytes;
    for (std::size_t i = 0; i < lines.size(); ++i)
      bytes += lines[i] + (i % 3 == 0 ? "\r\n" : "\n");
    for (int max_chunk : {1, 2, 7, 64, 4096}) {
      auto out = split_in_chunks(bytes, rng, max_chunk);
      BOOST_TEST(out == lines, "seed " << seed << ", chunks up to " << max_chunk);
    }
  }
}

BOOST_AUTO_TEST_CASE(unterminated_last_line_is_kept_at_end_of_stream) {
  trib::LineSplitter splitter;
  std::vector<std::string> out;
  std::string bytes = "one\ntwo\nthr";
  splitter.feed(bytes.data(), bytes.size(), out);
  BOOST_TEST(out == (std::vector<std::string>{"one", "two"}));
  splitter.feed("ee", 2, out);
  splitter.finish(out);
  BOOST_TEST(out == (std::vector<std::string>{"one", "two", "three"}));
}

BOOST_AUTO_TEST_CASE(overlong_lines_are_cut_not_buffered_forever) {
  trib::LineSplitter splitter(8);
  std::vector<std::string> out;
  std::string bytes = "short\n" + std::string(30, 'x') + "\nafter\n";
  // Feed byte by byte so the over-long line spans many reads.
  for (char c : bytes) splitter.feed(&c, 1, out);
  splitter.finish(out);
  BOOST_TEST(out == (std::vector<std::string>{"short", std::string(8, 'x'), "after"}));
  BOOST_TEST(splitter.overlong_lines() == 1u);
}
