// The baseline the benchmarks measure the engine against: the best
// single-threaded word count we could write. Whitespace is found 64 bytes at
// a time with SSE2 (dstream/core/word_scan.hpp, the engine's scanner too),
// words of up to 16 bytes are hashed as two integers (wyhash-style) and kept
// inline in an open-addressing table.
//
// Shared by apps/socket_wordcount_bench.cpp (over loopback TCP) and
// apps/wordcount_bench.cpp (over preloaded batches), so both compare against
// the same loop.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "dstream/core/hashing.hpp"
#include "dstream/core/word_scan.hpp"

namespace wordloop {

// wyhash-style: words of up to 16 bytes (nearly all) cost two 8-byte loads and
// one 64x64->128 multiply. The checksum sum(count * hash(word)) does not depend
// on how words are batched, so it checks every word's count, not just the total.

constexpr uint64_t kSeed0 = 0xa0761d6478bd642full, kSeed1 = 0xe7037ed1a0b428dbull,
                   kSeed2 = 0x8ebc6af09c88c6e3ull;

inline uint64_t mix(uint64_t a, uint64_t b) {
  __uint128_t r = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

inline uint64_t load8(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// A short word (len <= 16) as two integers: its bytes, zero-padded to 16.
// Reads 16 bytes from p whatever len is: callers keep 16 bytes of slack.
// Masks rather than branches, as word lengths are unpredictable.
struct ShortKey {
  uint64_t a, b;
};
inline ShortKey short_key(const char* p, uint32_t len) {
  const auto& masks = trib::detail::kShortTextMasks;  // the ones the engine's short_text uses
  return {load8(p) & masks.lo[len], load8(p + 8) & masks.hi[len]};
}

inline uint64_t hash_short(ShortKey k, uint32_t len) {
  return mix(k.a ^ kSeed0 ^ len, k.b ^ kSeed1);
}

// Long words: 16 bytes per step, the last (overlapping) 16 bytes at the end.
inline uint64_t hash_long(const char* p, uint32_t len) {
  uint64_t h = kSeed2 ^ len;
  uint32_t i = 0;
  for (; i + 16 < len; i += 16) h = mix(load8(p + i) ^ kSeed0, load8(p + i + 8) ^ h);
  return mix(load8(p + len - 16) ^ kSeed1 ^ h, load8(p + len - 8) ^ kSeed0);
}

// For words without slack behind them (the engine's records).
inline uint64_t word_hash(std::string_view w) {
  auto len = static_cast<uint32_t>(w.size());
  if (len > 16) return hash_long(w.data(), len);
  char padded[16] = {};
  std::memcpy(padded, w.data(), len);
  return hash_short(short_key(padded, len), len);
}

// Counts words in one micro-batch: open addressing with linear probing over a
// power-of-two table. A key is stored once: a word of up to 16 bytes (all of
// the generated ones) inline in its slot, so a lookup touches one slot and
// compares two integers; a longer one in an arena, the slot holding its hash.
// At most half full: fewer probes beat a smaller table here (10k keys: 32k
// slots of 24 bytes, 768 KiB, in L2). Measured faster than keeping keys only
// in an arena, which costs a second dependent load per lookup.
class WordTable {
 public:
  WordTable() { rehash(1 << 14); }

  void add(const char* p, uint32_t len) {
    if (__builtin_expect(len > 16, 0)) return add_long(p, len);
    ShortKey k = short_key(p, len);
    for (std::size_t i = hash_short(k, len) & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (((s.a ^ k.a) | (s.b ^ k.b) | (s.len ^ len)) == 0) {
        ++s.count;
        return;
      }
      if (s.len == 0) return insert(i, k.a, k.b, len);
    }
  }

  // Adds this batch's counts to the totals, then empties the table.
  void fold(uint64_t& words, uint64_t& checksum) {
    for (const Slot& s : slots_) {
      if (s.len == 0) continue;
      uint64_t h = s.len > 16 ? s.a : hash_short({s.a, s.b}, s.len);
      words += s.count;
      checksum += s.count * h;
    }
    std::fill(slots_.begin(), slots_.end(), Slot{});
    used_ = 0;
    arena_.clear();
  }

 private:
  struct Slot {
    uint64_t a, b;   // len <= 16: the key's bytes; else: its hash, its offset in arena_
    uint32_t len;    // 0: empty
    uint32_t count;  // the caller folds long before 2^32 words
  };

  __attribute__((noinline)) void add_long(const char* p, uint32_t len) {
    uint64_t h = hash_long(p, len);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.len == len && s.a == h && std::memcmp(arena_.data() + s.b, p, len) == 0) {
        ++s.count;
        return;
      }
      if (s.len == 0) {
        uint64_t offset = arena_.size();
        arena_.insert(arena_.end(), p, p + len);
        return insert(i, h, offset, len);
      }
    }
  }

  __attribute__((noinline)) void insert(std::size_t i, uint64_t a, uint64_t b, uint32_t len) {
    slots_[i] = Slot{a, b, len, 1};
    if (++used_ * 2 > slots_.size()) rehash(slots_.size() * 2);  // load <= 1/2
  }

  void rehash(std::size_t capacity) {
    std::vector<Slot> old(capacity);
    old.swap(slots_);
    mask_ = capacity - 1;
    for (const Slot& s : old) {
      if (s.len == 0) continue;
      uint64_t h = s.len > 16 ? s.a : hash_short({s.a, s.b}, s.len);
      std::size_t i = h & mask_;
      while (slots_[i].len != 0) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0, used_ = 0;
  std::vector<char> arena_;  // the keys longer than 16 bytes
};

// Counts lines and words of data[0, n), which must end on whitespace (or be
// the end of the stream) and have 64 readable bytes of slack after it.
// Whitespace is found 64 bytes at a time (trib::whitespace_mask64, the
// engine's scanner too); each word then costs a couple of bit operations plus
// its table lookup. Its own loop rather than trib::for_each_word: with the
// slack it needs no tail handling, and through for_each_word it measured
// 1.2x slower (the compiled loops differ; we did not find why).
inline void count_chunk(const char* data, std::size_t n, WordTable& table, uint64_t& lines_out,
                 uint64_t& words_out) {
  uint64_t lines = 0, words = 0;  // locals: the table's stores cannot alias them
  std::size_t word_start = 0;
  bool open = false;      // a word runs into the next block
  uint64_t carry = 0;     // 1: the previous block's last byte is in a word
  for (std::size_t base = 0; base < n; base += 64) {
    uint64_t newlines;
    uint64_t white = trib::whitespace_mask64(data + base, &newlines);
    if (n - base < 64) {  // bytes past the end count as whitespace
      uint64_t past = ~0ull << (n - base);
      white |= past;
      newlines &= ~past;
    }
    lines += trib::popcount64(newlines);
    uint64_t in_word = ~white;
    uint64_t after_word = (in_word << 1) | carry;
    uint64_t starts = in_word & ~after_word, ends = white & after_word;
    carry = in_word >> 63;
    if (open && ends) {
      std::size_t e = base + static_cast<std::size_t>(__builtin_ctzll(ends));
      ends &= ends - 1;
      table.add(data + word_start, static_cast<uint32_t>(e - word_start));
      ++words;
      open = false;
    }
    while (starts) {  // starts and ends alternate from here on
      std::size_t s = base + static_cast<std::size_t>(__builtin_ctzll(starts));
      starts &= starts - 1;
      if (!ends) {
        word_start = s;
        open = true;
        break;
      }
      std::size_t e = base + static_cast<std::size_t>(__builtin_ctzll(ends));
      ends &= ends - 1;
      table.add(data + s, static_cast<uint32_t>(e - s));
      ++words;
    }
  }
  lines_out += lines;
  words_out += words;
}

}  // namespace wordloop
