// Finding words 64 bytes at a time: one SSE2 pass turns 64 bytes into a bit
// mask of whitespace, and word starts and ends fall out of it with a few bit
// operations, so a word costs two count-trailing-zeros rather than a branch
// per byte. The engine's split_words (WordRange in text.hpp) uses
// for_each_word and WordCursor; the benchmarks' single-threaded loop
// (bench/word_count_loop.hpp) the same whitespace_mask64 in a loop of its own,
// and the line splitter newline_mask64.
//
// Whitespace is ASCII's six: ' ', '\t', '\n', '\v', '\f', '\r' (as
// trib::is_space). Bytes >= 0x80 are never whitespace, so UTF-8 stays whole.
// Bytes past the end of the text are read only within its page, and masked
// off (block_mask; read_within_page.hpp).
#pragma once

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "dstream/core/read_within_page.hpp"

namespace trib {

// Bit i set: byte p[i] is whitespace; *newlines gets the bits of '\n'.
// Reads exactly p[0, 64).
inline uint64_t whitespace_mask64(const char* p, uint64_t* newlines) {
#if defined(__SSE2__)
  const __m128i space = _mm_set1_epi8(' '), tab = _mm_set1_epi8('\t'), four = _mm_set1_epi8(4),
                nl = _mm_set1_epi8('\n');
  uint64_t ws = 0, lf = 0;
  for (int k = 0; k < 4; ++k) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    __m128i x = _mm_sub_epi8(v, tab);                            // '\t'..'\r' -> 0..4
    __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(x, four), x);  // x <= 4, unsigned
    __m128i white = _mm_or_si128(control, _mm_cmpeq_epi8(v, space));
    ws |= static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(white))) << (16 * k);
    lf |= static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl))))
          << (16 * k);
  }
  *newlines = lf;
  return ws;
#else
  uint64_t ws = 0, lf = 0;
  for (int i = 0; i < 64; ++i) {
    auto c = static_cast<unsigned char>(p[i]);
    ws |= static_cast<uint64_t>(c == ' ' || (c >= '\t' && c <= '\r')) << i;
    lf |= static_cast<uint64_t>(c == '\n') << i;
  }
  *newlines = lf;
  return ws;
#endif
}

// Bit i set: byte p[i] is '\n'; *high gets the bits of bytes >= 0x80 (not
// ASCII: the line needs a UTF-8 check). Reads exactly p[0, 64).
inline uint64_t newline_mask64(const char* p, uint64_t* high) {
#if defined(__SSE2__)
  const __m128i nl = _mm_set1_epi8('\n');
  uint64_t lf = 0, hi = 0;
  for (int k = 0; k < 4; ++k) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    lf |= static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl))))
          << (16 * k);
    hi |= static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(v))) << (16 * k);
  }
  *high = hi;
  return lf;
#else
  uint64_t lf = 0, hi = 0;
  for (int i = 0; i < 64; ++i) {
    auto c = static_cast<unsigned char>(p[i]);
    lf |= static_cast<uint64_t>(c == '\n') << i;
    hi |= static_cast<uint64_t>(c >= 0x80) << i;
  }
  *high = hi;
  return lf;
#endif
}

// The '\n' bytes in p[0, n); *non_ascii: whether a byte >= 0x80 is there
// too. Counted 16 bytes at a time in byte lanes (a compare and a subtract
// each), summed every 255 steps. count_newlines picks the AVX2 version
// (32 bytes a step) where the CPU has it: this is the reader's one pass
// over what it read, and the build targets plain x86-64.
inline std::size_t count_newlines_sse2(const char* p, std::size_t n, bool* non_ascii) {
  std::size_t count = 0, i = 0;
  bool high = false;
#if defined(__SSE2__)
  const __m128i nl = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
  __m128i any = zero;
  while (n - i >= 16) {
    __m128i lanes = zero;  // each lane counts up to 255 newlines
    std::size_t stop = i + std::min<std::size_t>((n - i) / 16, 255) * 16;
    for (; i < stop; i += 16) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      lanes = _mm_sub_epi8(lanes, _mm_cmpeq_epi8(v, nl));
      any = _mm_or_si128(any, v);
    }
    __m128i sums = _mm_sad_epu8(lanes, zero);  // two 64-bit sums of eight lanes each
    count += static_cast<std::size_t>(_mm_cvtsi128_si32(sums)) +
             static_cast<std::size_t>(_mm_extract_epi16(sums, 4));
  }
  high = _mm_movemask_epi8(any) != 0;
#endif
  for (; i < n; ++i) {
    count += p[i] == '\n';
    high |= static_cast<unsigned char>(p[i]) >= 0x80;
  }
  *non_ascii = high;
  return count;
}

#if defined(__x86_64__) && defined(__GNUC__)
#define TRIB_HAVE_AVX2_VERSIONS 1
__attribute__((target("avx2"))) inline std::size_t count_newlines_avx2(const char* p, std::size_t n,
                                                                       bool* non_ascii) {
  std::size_t count = 0, i = 0;
  const __m256i nl = _mm256_set1_epi8('\n'), zero = _mm256_setzero_si256();
  __m256i any = zero;
  while (n - i >= 32) {
    __m256i lanes = zero;  // each lane counts up to 255 newlines
    std::size_t stop = i + std::min<std::size_t>((n - i) / 32, 255) * 32;
    for (; i < stop; i += 32) {
      __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
      lanes = _mm256_sub_epi8(lanes, _mm256_cmpeq_epi8(v, nl));
      any = _mm256_or_si256(any, v);
    }
    __m256i sums = _mm256_sad_epu8(lanes, zero);  // four 64-bit sums of eight lanes each
    count += static_cast<std::size_t>(_mm256_extract_epi64(sums, 0)) +
             static_cast<std::size_t>(_mm256_extract_epi64(sums, 1)) +
             static_cast<std::size_t>(_mm256_extract_epi64(sums, 2)) +
             static_cast<std::size_t>(_mm256_extract_epi64(sums, 3));
  }
  bool high = _mm256_movemask_epi8(any) != 0;
  bool tail_high = false;
  count += count_newlines_sse2(p + i, n - i, &tail_high);
  *non_ascii = high || tail_high;
  return count;
}

inline bool cpu_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}
#endif

inline std::size_t count_newlines(const char* p, std::size_t n, bool* non_ascii) {
#if defined(TRIB_HAVE_AVX2_VERSIONS)
  if (cpu_has_avx2()) return count_newlines_avx2(p, n, non_ascii);
#endif
  return count_newlines_sse2(p, n, non_ascii);
}

// Set bits of x (the builtin is a library call without -mpopcnt).
inline uint64_t popcount64(uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
  return (x * 0x0101010101010101ull) >> 56;
}

// The whitespace mask of the 64-byte block at data + base of the text
// data[0, n) (base < n), and in *newlines its '\n' bits. Bits past the end
// of the text count as whitespace. A last partial block is read whole where
// that stays in its page (a line's last block, almost always: copying it
// out or reading it again shifted cost a text of 16-byte lines a third of
// its scan); otherwise the 64 bytes ending with the text, shifted into
// place, or a copy, for text under 64 bytes.
inline uint64_t block_mask(const char* data, std::size_t n, std::size_t base, uint64_t* newlines) {
  std::size_t left = n - base;
  if (left >= 64) return whitespace_mask64(data + base, newlines);
  uint64_t white, lf;
  if (detail::within_page<64>(data + base)) {
    uint64_t block[8];
    detail::load_within_page<64>(data + base, block);
    white = whitespace_mask64(reinterpret_cast<const char*>(block), &lf);
  } else if (n >= 64) {
    white = whitespace_mask64(data + n - 64, &lf) >> (64 - left);
    lf >>= 64 - left;
  } else {
    char tail[64] = {};
    std::memcpy(tail, data + base, left);
    white = whitespace_mask64(tail, &lf);
  }
  uint64_t past = ~0ull << left;
  *newlines = lf & ~past;
  return white | past;
}

// The words of data[0, n), one at a time: next() gives each word's offset
// and length in order. Words are maximal runs of non-whitespace; the end of
// the text ends a word. kCountLines: also counts the '\n' bytes passed
// (newlines()), for callers that count lines in the same pass.
template <bool kCountLines = false>
class WordCursor {
 public:
  WordCursor() = default;
  WordCursor(const char* data, std::size_t n) : data_(data), n_(n) {}

  // The next word as [*start, *start + *len); false when there is none.
  bool next(std::size_t* start, std::size_t* len) {
    for (;;) {
      if (open_) {
        if (ends_) {  // the open word ends in this block
          std::size_t e = base_ + static_cast<std::size_t>(__builtin_ctzll(ends_));
          ends_ &= ends_ - 1;
          open_ = false;
          *start = word_start_;
          *len = e - word_start_;
          return true;
        }
      } else if (starts_) {  // starts and ends alternate from here on
        std::size_t s = base_ + static_cast<std::size_t>(__builtin_ctzll(starts_));
        starts_ &= starts_ - 1;
        if (ends_) {
          std::size_t e = base_ + static_cast<std::size_t>(__builtin_ctzll(ends_));
          ends_ &= ends_ - 1;
          *start = s;
          *len = e - s;
          return true;
        }
        word_start_ = s;  // runs into the next block
        open_ = true;
      }
      if (next_ >= n_) {
        if (!open_) return false;
        open_ = false;  // the text's end ends the word
        *start = word_start_;
        *len = n_ - word_start_;
        return true;
      }
      load_block();
    }
  }

  uint64_t newlines() const { return lines_; }

 private:
  void load_block() {
    base_ = next_;
    uint64_t lf;
    uint64_t white = block_mask(data_, n_, base_, &lf);
    next_ = base_ + 64;
    if (kCountLines) lines_ += popcount64(lf);
    uint64_t in_word = ~white;
    uint64_t after_word = (in_word << 1) | carry_;  // bit i: byte i-1 is in a word
    starts_ = in_word & ~after_word;
    ends_ = white & after_word;
    carry_ = in_word >> 63;
  }

  const char* data_ = nullptr;
  std::size_t n_ = 0;
  std::size_t base_ = 0, next_ = 0;  // the current block's offset; the next one's
  uint64_t starts_ = 0, ends_ = 0;   // word boundaries left in the current block
  uint64_t carry_ = 0;               // 1: the last byte of the previous block is in a word
  std::size_t word_start_ = 0;
  bool open_ = false;                // a word started and has not ended yet
  uint64_t lines_ = 0;
};

// Calls f(offset, length) for every word of data[0, n), in order; returns
// the number of '\n' bytes when kCountLines. The same scan as WordCursor as
// one loop, with its state in registers (split_words' for_each).
template <bool kCountLines = false, class F>
uint64_t for_each_word(const char* data, std::size_t n, F&& f) {
  uint64_t lines = 0;
  std::size_t word_start = 0;
  bool open = false;   // a word runs into the next block
  uint64_t carry = 0;  // 1: the previous block's last byte is in a word
  auto block = [&](std::size_t base, uint64_t white, uint64_t lf) __attribute__((always_inline)) {
    if (kCountLines) lines += popcount64(lf);
    uint64_t in_word = ~white;
    uint64_t after_word = (in_word << 1) | carry;
    uint64_t starts = in_word & ~after_word, ends = white & after_word;
    carry = in_word >> 63;
    if (open && ends) {
      std::size_t e = base + static_cast<std::size_t>(__builtin_ctzll(ends));
      ends &= ends - 1;
      f(word_start, e - word_start);
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
      f(s, e - s);
    }
  };
  std::size_t base = 0;
  for (; n - base >= 64; base += 64) {  // whole blocks
    uint64_t lf;
    uint64_t white = whitespace_mask64(data + base, &lf);
    block(base, white, lf);
  }
  if (base < n) {  // the last partial block
    uint64_t lf;
    uint64_t white = block_mask(data, n, base, &lf);
    block(base, white, lf);
  }
  if (open) f(word_start, n - word_start);  // the text's end ends the word
  return lines;
}

}  // namespace trib
