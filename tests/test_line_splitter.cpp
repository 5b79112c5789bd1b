// Lines split across TCP reads must come out whole, exactly once.
#define BOOST_TEST_MODULE line_splitter
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "dstream/core/text_block.hpp"
#include "dstream/core/word_scan.hpp"
#include "io/line_splitter.hpp"
#include "io/utf8.hpp"

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

// Under a limit above the buffer size, a longer line moves to a buffer of
// its own and comes out whole, however its bytes are read.
BOOST_AUTO_TEST_CASE(a_line_longer_than_the_buffer_comes_out_whole_under_a_raised_limit) {
  std::string long_line;
  for (int i = 0; long_line.size() < 300000; ++i) long_line += "word" + std::to_string(i) + " ";
  for (std::size_t max_chunk : {1000u, 4096u, 65536u}) {
    trib::LineSplitter splitter(1 << 20, 4096);
    std::vector<std::string> out;
    std::string bytes = "before\n" + long_line + "\nafter\n";
    std::mt19937 rng(static_cast<unsigned>(max_chunk));
    std::uniform_int_distribution<std::size_t> chunk(1, max_chunk);
    for (std::size_t pos = 0; pos < bytes.size();) {
      std::size_t n = std::min(chunk(rng), bytes.size() - pos);
      splitter.feed(bytes.data() + pos, n, out);
      pos += n;
    }
    splitter.finish(out);
    BOOST_TEST(out == (std::vector<std::string>{"before", long_line, "after"}), "reads of up to " << max_chunk);
    BOOST_TEST(splitter.overlong_lines() == 0u);
  }
}

// The zero-copy path: reads go straight into the splitter's buffer and come
// back as blocks of views. With small buffers, lines keep crossing buffer
// boundaries (the unfinished tail moves to a new buffer); every block cut
// earlier must still read right at the end, kept alive only by its pins.
BOOST_AUTO_TEST_CASE(blocks_stay_valid_while_lines_cross_buffer_boundaries) {
  for (std::size_t buffer : {4096u, 5000u, 70000u}) {
    std::mt19937 rng(static_cast<unsigned>(buffer));
    auto lines = random_lines(rng, 6000);
    lines.push_back(std::string(9000, 'q'));  // longer than the small buffers
    lines.push_back("after the long one");
    std::string bytes;
    for (auto& l : lines) bytes += l + ((rng() % 3) ? "\n" : "\r\n");
    trib::LineSplitter splitter(1 << 20, buffer);
    std::vector<trib::TextBlock> blocks;
    std::uniform_int_distribution<std::size_t> chunk(1, 3000);
    for (std::size_t pos = 0; pos < bytes.size();) {
      std::size_t n = std::min({chunk(rng), bytes.size() - pos, splitter.space_size()});
      std::memcpy(splitter.space(), bytes.data() + pos, n);
      blocks.push_back(splitter.commit(n));
      pos += n;
    }
    blocks.push_back(splitter.finish());
    std::vector<std::string> out;
    for (auto& b : blocks)
      for (trib::Text line : b.lines) out.emplace_back(line);
    BOOST_TEST(out == lines, "buffer " << buffer);
  }
}

BOOST_AUTO_TEST_CASE(multibyte_characters_split_across_reads_are_kept) {
  const std::string text = "naïve 日本語 😀 Größe\nzweite Zeile ✓\n";
  trib::LineSplitter splitter;
  std::vector<std::string> out;
  for (char c : text) splitter.feed(&c, 1, out);  // every character cut apart
  splitter.finish(out);
  BOOST_TEST(out == (std::vector<std::string>{"naïve 日本語 😀 Größe", "zweite Zeile ✓"}));
  BOOST_TEST(splitter.repaired_bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(invalid_utf8_is_repaired_in_place_of_the_bad_bytes) {
  trib::LineSplitter splitter;
  std::vector<std::string> out;
  const std::string bytes = "ok\nbad\xff\xfe end\ncut \xe6\x97\n";
  splitter.feed(bytes.data(), bytes.size(), out);
  BOOST_TEST(out == (std::vector<std::string>{
                        "ok", "bad\xEF\xBF\xBD\xEF\xBF\xBD end", "cut \xEF\xBF\xBD\xEF\xBF\xBD"}));
  BOOST_TEST(splitter.repaired_bytes() == 4u);
}

// Bad bytes anywhere: in lines longer and shorter than the 64 bytes the
// splitter scans at a time, next to valid multi-byte characters, in lines
// that share a 64-byte block with a bad one, in reads of any size. The
// oracle splits on '\n' itself and repairs each line with sanitize_utf8.
BOOST_AUTO_TEST_CASE(every_line_with_a_bad_byte_is_repaired_wherever_it_falls) {
  std::mt19937 rng(21);
  const std::vector<std::string> pieces = {"a", "word ", "\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x98\x80",
                                           "\xff", "\xe6\x97", "\xc3", "\x80", "  "};
  for (int round = 0; round < 30; ++round) {
    std::string bytes;
    std::vector<std::string> want;
    std::size_t bad_bytes = 0;
    for (int i = 0; i < 300; ++i) {
      std::string line;
      int n = std::uniform_int_distribution<int>(0, 60)(rng);
      bool may_be_bad = rng() % 4 == 0;
      for (int j = 0; j < n; ++j) {
        const std::string& p = pieces[rng() % pieces.size()];
        if (!may_be_bad && (p == "\xff" || p == "\xe6\x97" || p == "\xc3" || p == "\x80")) continue;
        line += p;
      }
      bytes += line + "\n";
      std::string fixed = line;
      bad_bytes += trib::sanitize_utf8(fixed);
      want.push_back(fixed);
    }
    for (int max_chunk : {1, 13, 64, 100, 4096, 1 << 20}) {
      auto out = split_in_chunks(bytes, rng, max_chunk);
      BOOST_TEST(out == want, "round " << round << ", chunks up to " << max_chunk);
    }
    trib::LineSplitter splitter;
    std::vector<std::string> out;
    splitter.feed(bytes.data(), bytes.size(), out);
    BOOST_TEST(splitter.repaired_bytes() == bad_bytes);
  }
}

// The socket reader's path: commit_uncut hands plain lines over uncut
// (one LineRun per read) and everything else as commit does. Fed the same
// bytes in the same reads as commit, the blocks it makes must hold the same
// lines once cut (TextBlock::partition, then rows), split into the same
// words uncut (split_words' scan over the run) as cut, and stay readable
// with only their pins left. The text mixes plain lines with "\r\n" ends,
// empty lines, multi-byte characters cut by the reads, invalid bytes
// (repaired) and lines over the limit (cut), over small buffers so lines
// keep crossing from one buffer to the next.
BOOST_AUTO_TEST_CASE(uncut_blocks_hold_the_same_lines_and_words_as_cut_ones) {
  std::mt19937 rng(33);
  const std::vector<std::string> plain = {"a", "word ", "Zipf", "\t", "  ", "\xc3\xa9", "\xe6\x97\xa5",
                                          "\xf0\x9f\x98\x80"};
  const std::vector<std::string> bad = {"\xff", "\xe6\x97", "\xc3", "\x80"};
  std::size_t uncut_blocks = 0, uncut_lines = 0;
  for (int round = 0; round < 24; ++round) {
    const std::size_t limit = round % 3 == 0 ? 100 : 1 << 20;
    const bool ascii = round % 2 == 0;  // all plain ASCII: every block may go uncut
    std::string bytes;
    for (int i = 0; i < 3000; ++i) {
      std::string line;
      int n = std::uniform_int_distribution<int>(0, rng() % 50 == 0 ? 200 : 30)(rng);
      for (int j = 0; j < n; ++j) {
        const std::string& p = (!ascii && rng() % 200 == 0) ? bad[rng() % bad.size()]
                                                            : plain[rng() % (ascii ? 5 : plain.size())];
        line += p;
      }
      bytes += line + (rng() % 4 == 0 ? "\r\n" : "\n");
    }
    for (std::size_t buffer : {4096u, 70000u}) {
      trib::LineSplitter cut(limit, buffer), uncut(limit, buffer);
      std::vector<trib::TextBlock> want;
      std::vector<trib::Partition> got;
      std::uniform_int_distribution<std::size_t> chunk(1, 3000);
      for (std::size_t pos = 0; pos < bytes.size();) {
        std::size_t n = std::min({chunk(rng), bytes.size() - pos, cut.space_size(), uncut.space_size()});
        std::memcpy(cut.space(), bytes.data() + pos, n);
        std::memcpy(uncut.space(), bytes.data() + pos, n);
        want.push_back(cut.commit(n));
        trib::TextBlock block = uncut.commit_uncut(n);
        if (block.uncut.lines > 0) ++uncut_blocks, uncut_lines += block.uncut.lines;
        BOOST_TEST(block.size() == want.back().lines.size());
        got.push_back(std::move(block).partition());
        pos += n;
      }
      want.push_back(cut.finish());
      got.push_back(uncut.finish().partition());
      BOOST_TEST(uncut.repaired_bytes() == cut.repaired_bytes());
      BOOST_TEST(uncut.overlong_lines() == cut.overlong_lines());
      std::vector<std::string> want_lines, got_lines, want_words, got_words;
      for (auto& b : want)
        for (trib::Text line : b.lines) {
          want_lines.emplace_back(line);
          trib::split_words(line).for_each([&](trib::Text w) { want_words.emplace_back(w); });
        }
      uncut = trib::LineSplitter();  // the blocks' pins are all that keep their bytes
      for (const auto& p : got) {
        p.for_each_run_or_uncut<trib::Text>(
            [&](const trib::LineRun& run) {
              trib::for_each_word(run.data, run.bytes,
                                  [&](std::size_t at, std::size_t n) { got_words.emplace_back(run.data + at, n); });
            },
            [&](const std::vector<trib::Text>& rows) {
              for (trib::Text line : rows)
                trib::split_words(line).for_each([&](trib::Text w) { got_words.emplace_back(w); });
            });
        BOOST_TEST(p.size() == p.rows<trib::Text>().size());
        for (trib::Text line : p.rows<trib::Text>()) got_lines.emplace_back(line);
      }
      BOOST_TEST(got_lines == want_lines, "round " << round << ", buffer " << buffer);
      BOOST_TEST(got_words == want_words, "round " << round << ", buffer " << buffer);
    }
  }
  // The uncut path was taken, for most lines.
  BOOST_TEST(uncut_blocks > 100u);
  BOOST_TEST(uncut_lines > 24u * 3000u / 2);
}

// A receiver's interval: lines arrive in chunks of any size (blocks whose
// bytes die unless pinned) and leave as n partitions sliced as Spark slices
// a collection: partition i holds lines [i*total/n, (i+1)*total/n).
BOOST_AUTO_TEST_CASE(line_chunks_cut_an_interval_into_spark_slices_that_pin_every_block) {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string> all = random_lines(rng, std::uniform_int_distribution<int>(0, 300)(rng));
    trib::LineChunks chunks;
    std::vector<std::weak_ptr<const void>> blocks;
    std::vector<std::size_t> block_of_line;
    for (std::size_t at = 0; at < all.size();) {
      std::size_t n = std::min<std::size_t>(all.size() - at, std::uniform_int_distribution<int>(0, 40)(rng));
      // Each chunk's bytes live only in its own block.
      // Half the chunks as a socket reader hands them over: uncut lines.
      bool uncut = rng() % 2 == 0;
      auto block = std::make_shared<std::string>();
      std::vector<std::size_t> starts;
      for (std::size_t i = at; i < at + n; ++i)
        starts.push_back(block->size()), *block += all[i] + (uncut ? (i % 2 ? "\r\n" : "\n") : "");
      std::vector<trib::Text> lines;
      for (std::size_t i = 0; i < n; ++i)
        lines.emplace_back(block->data() + starts[i], all[at + i].size());
      trib::Partition p = uncut ? trib::Partition::uncut_lines(trib::LineRun{block->data(), block->size(), n},
                                                                 &trib::cut_line_run_rows)
                                : trib::Partition::of(std::move(lines));
      p.pin(block);
      chunks.add(std::move(p));
      block_of_line.insert(block_of_line.end(), n, blocks.size());
      blocks.push_back(block);
      at += n;
    }
    BOOST_TEST(chunks.lines() == all.size());
    int parts = std::uniform_int_distribution<int>(1, 7)(rng);
    trib::Dataset out = chunks.take(parts);
    BOOST_TEST(chunks.lines() == 0u);
    BOOST_REQUIRE_EQUAL(out.size(), static_cast<std::size_t>(parts));
    std::size_t next = 0;
    for (int i = 0; i < parts; ++i) {
      std::size_t begin = all.size() * i / parts, end = all.size() * (i + 1) / parts;
      const auto& rows = out[i].rows<trib::Text>();
      BOOST_REQUIRE_EQUAL(rows.size(), end - begin);
      BOOST_TEST(next == begin);
      for (std::size_t j = 0; j < rows.size(); ++j) BOOST_TEST(std::string(rows[j]) == all[begin + j]);
      next = end;
    }
    BOOST_TEST(next == all.size());
    // A partition keeps the blocks its lines lie in alive by itself: the
    // last one's lines still read right once every other one is gone.
    trib::Partition last = out.back();
    out.clear();
    const auto& rows = last.rows<trib::Text>();
    std::size_t begin = all.size() * (parts - 1) / parts;
    for (std::size_t j = 0; j < rows.size(); ++j) {
      BOOST_TEST(!blocks[block_of_line[begin + j]].expired());
      BOOST_TEST(std::string(rows[j]) == all[begin + j]);
    }
  }
}

// Map-ahead's slots: up to n partitions of consecutive whole chunks, no line
// copied, each within a chunk of its share, every chunk's bytes pinned by
// the partition holding its lines.
BOOST_AUTO_TEST_CASE(line_chunks_hand_over_slots_as_groups_of_whole_chunks) {
  std::mt19937 rng(13);
  for (int round = 0; round < 300; ++round) {
    std::vector<std::string> all = random_lines(rng, std::uniform_int_distribution<int>(1, 400)(rng));
    trib::LineChunks chunks;
    std::vector<const char*> chunk_starts;  // where each chunk's first line lies
    std::vector<std::weak_ptr<const void>> blocks;
    std::size_t largest = 0;
    for (std::size_t at = 0; at < all.size();) {
      std::size_t n = std::min<std::size_t>(all.size() - at, std::uniform_int_distribution<int>(1, 40)(rng));
      auto block = std::make_shared<std::string>();
      std::vector<std::size_t> starts;
      for (std::size_t i = at; i < at + n; ++i) starts.push_back(block->size()), *block += all[i] + "|";
      std::vector<trib::Text> lines;
      for (std::size_t i = 0; i < n; ++i) lines.emplace_back(block->data() + starts[i], all[at + i].size());
      chunk_starts.push_back(block->data());
      trib::Partition p = trib::Partition::of(std::move(lines));
      p.pin(block);
      blocks.push_back(block);
      chunks.add(p);
      largest = std::max(largest, n);
      at += n;
    }
    int parts = std::uniform_int_distribution<int>(1, 6)(rng);
    trib::Dataset out = chunks.take_chunks(parts);
    BOOST_TEST(chunks.lines() == 0u);
    BOOST_TEST(!out.empty());
    BOOST_TEST(out.size() <= static_cast<std::size_t>(parts));
    std::size_t next = 0;
    for (const auto& p : out) {
      const auto& rows = p.rows<trib::Text>();
      BOOST_TEST(!rows.empty());
      BOOST_TEST(rows.size() <= all.size() / static_cast<std::size_t>(parts) + largest);
      // Starts where a chunk starts: a view into the chunk's block, not a copy.
      BOOST_TEST((std::find(chunk_starts.begin(), chunk_starts.end(), rows.front().data()) != chunk_starts.end()));
      for (const auto& line : rows) BOOST_TEST(std::string(line) == all[next++]);
    }
    BOOST_TEST(next == all.size());
    for (auto& b : blocks) BOOST_TEST(!b.expired());
    out.clear();
    for (auto& b : blocks) BOOST_TEST(b.expired());
  }
}

// A receiver puts the lines of the i-th n-th of its interval in slot i. The
// partitions keep the order of arrival whatever the slots: the slots as they
// are when there are n of them and none holds more than twice its share,
// otherwise Spark's slices of the interval's lines.
BOOST_AUTO_TEST_CASE(line_chunks_hand_over_even_time_slots_and_reslice_uneven_ones) {
  std::mt19937 rng(11);
  int handed_over = 0, resliced = 0;
  for (int round = 0; round < 400; ++round) {
    int parts = std::uniform_int_distribution<int>(1, 5)(rng);
    std::vector<std::string> all = random_lines(rng, std::uniform_int_distribution<int>(0, 400)(rng));
    trib::LineChunks chunks;
    std::vector<std::vector<std::string>> slots;  // the model: lines per slot
    std::size_t last_slot = 0;
    bool even_rates = rng() % 2 == 0;  // a steady rate: about the same lines in each slice
    std::vector<std::weak_ptr<const void>> blocks;
    std::vector<std::pair<const char*, const char*>> block_ranges;  // where each block's bytes were
    for (std::size_t at = 0; at < all.size();) {
      std::size_t n = std::min<std::size_t>(all.size() - at, std::uniform_int_distribution<int>(1, 30)(rng));
      std::size_t slot = even_rates ? at * static_cast<std::size_t>(parts) / all.size()
                                    : std::uniform_int_distribution<std::size_t>(0, parts - 1)(rng);
      auto block = std::make_shared<std::string>();
      std::vector<std::size_t> starts;
      for (std::size_t i = at; i < at + n; ++i) starts.push_back(block->size()), *block += all[i];
      std::vector<trib::Text> lines;
      for (std::size_t i = 0; i < n; ++i) lines.emplace_back(block->data() + starts[i], all[at + i].size());
      trib::Partition p = trib::Partition::of(std::move(lines));
      p.pin(block);
      blocks.push_back(block);
      block_ranges.emplace_back(block->data(), block->data() + block->size() + 1);
      chunks.add(p, slot);
      last_slot = std::max(last_slot, slot);  // an earlier slot than the last counts as the last
      if (slots.size() <= last_slot) slots.resize(last_slot + 1);
      slots[last_slot].insert(slots[last_slot].end(), all.begin() + at, all.begin() + at + n);
      at += n;
    }
    trib::Dataset out = chunks.take(parts);
    BOOST_REQUIRE_EQUAL(out.size(), static_cast<std::size_t>(parts));
    bool even = slots.size() == static_cast<std::size_t>(parts);
    for (const auto& s : slots) even = even && s.size() * parts <= 2 * all.size() + parts;
    std::vector<std::vector<std::string>> expected;
    if (even) {
      expected = slots;
      ++handed_over;
    } else {
      for (int i = 0; i < parts; ++i)
        expected.emplace_back(all.begin() + all.size() * i / parts, all.begin() + all.size() * (i + 1) / parts);
      ++resliced;
    }
    for (int i = 0; i < parts; ++i) {
      std::vector<std::string> got;
      for (trib::Text t : out[i].rows<trib::Text>()) got.emplace_back(t);
      BOOST_TEST(got == expected[i], "round " << round << " partition " << i);
    }
    // One partition alone keeps alive every block its lines point into; a
    // handed-over slot keeps no other (its bytes go as soon as no one needs them).
    std::size_t kept_index = static_cast<std::size_t>(rng() % parts);
    trib::Partition kept = out[kept_index];
    out.clear();
    std::vector<bool> used(blocks.size(), false);
    for (trib::Text t : kept.rows<trib::Text>())
      for (std::size_t b = 0; b < blocks.size(); ++b)
        if (t.data() >= block_ranges[b].first && t.data() < block_ranges[b].second) used[b] = true;
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      if (used[b]) BOOST_TEST(!blocks[b].expired(), "round " << round << " block " << b);
      else if (even) BOOST_TEST(blocks[b].expired(), "round " << round << " block " << b);
    }
    std::vector<std::string> still;
    for (trib::Text t : kept.rows<trib::Text>()) still.emplace_back(t);
    BOOST_TEST(still == expected[kept_index]);
  }
  BOOST_TEST(handed_over > 50);  // both paths ran
  BOOST_TEST(resliced > 50);
}

namespace {

// Fills what is left of the splitter's buffer with whole 100-byte lines
// numbered from `first`; returns the block they make.
trib::TextBlock fill_buffer(trib::LineSplitter& splitter, int& first) {
  char* at = splitter.space();
  std::size_t room = splitter.space_size(), n = 0;
  for (; n + 100 <= room; n += 100, ++first) {
    std::string line = "line " + std::to_string(first);
    line.resize(99, '.');
    std::memcpy(at + n, line.data(), 99);
    at[n + 99] = '\n';
  }
  return splitter.commit(n);
}

bool lines_are_numbered(const trib::TextBlock& block, int from) {
  for (const auto& line : block.lines) {
    std::string expected = "line " + std::to_string(from++);
    expected.resize(99, '.');
    if (std::string(line) != expected) return false;
  }
  return true;
}

}  // namespace

// At the budget a reader waits until a batch gives a buffer back (here: a
// block dropped on another thread), even with buffers free in the pool (the
// bound is on buffers in use: what batches hold), its lines stay intact, and
// a stop ends the wait at once.
BOOST_AUTO_TEST_CASE(at_the_buffer_budget_a_reader_waits_for_a_buffer_to_come_back) {
  {  // buffers used and put back: free in the pool, and no room under the bound
    trib::LineSplitter earlier;
    int n = 0;
    std::vector<trib::TextBlock> blocks;
    for (int i = 0; i < 4; ++i) blocks.push_back(fill_buffer(earlier, n));
  }
  std::size_t before = trib::receive_buffers_in_use();
  trib::set_receive_buffer_budget((before + 2) * trib::kPooledBytes);
  std::atomic<bool> stop{false};
  trib::LineSplitter splitter(1 << 20, trib::kPooledBytes, [&] { return stop.load(); });
  int next = 0;
  std::vector<trib::TextBlock> held;
  held.push_back(fill_buffer(splitter, next));  // buffer 1, pinned
  held.push_back(fill_buffer(splitter, next));  // buffer 2, pinned: the budget is used up
  BOOST_REQUIRE_EQUAL(trib::receive_buffers_in_use(), before + 2);

  std::atomic<bool> released{false};
  std::thread batch_done([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    released = true;
    held[0] = trib::TextBlock{};  // buffer 1 comes back
  });
  int third = next;
  trib::TextBlock block = fill_buffer(splitter, next);  // waits for buffer 1
  BOOST_TEST(released.load(), "took a buffer over the budget instead of waiting");
  batch_done.join();
  BOOST_TEST(trib::receive_buffers_in_use() == before + 2);
  BOOST_TEST(lines_are_numbered(held[1], third - static_cast<int>(held[1].lines.size())));
  BOOST_TEST(lines_are_numbered(block, third));
  held.push_back(std::move(block));

  // Nothing comes back now; a stop request ends the wait.
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop = true;
  });
  auto start = std::chrono::steady_clock::now();
  splitter.space();
  BOOST_TEST(stop.load());
  BOOST_TEST((std::chrono::steady_clock::now() - start < std::chrono::seconds(5)), "the stop did not end the wait");
  stopper.join();
  trib::set_receive_buffer_budget(0);
}
