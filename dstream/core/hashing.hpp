// Key hashing for shuffles: one hash per key, computed once on the map side
// and carried with the record to the reduce side, where the same value picks
// the bucket and probes the reduce table.
//
// The hash must be the same in every process of a job (bucket choice spans
// nodes), so it is seedless. Text of up to 16 bytes (nearly every word) is
// read as two integers (ShortText) and hashed with one 64x64->128 multiply,
// wyhash-style; the same integers let tables compare keys without touching
// the key's bytes again. Longer text uses XXH3, integers a 64-bit mixer.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <string_view>
#include <type_traits>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "dstream/core/read_within_page.hpp"

namespace trib {

// Murmur3's finalizer: spreads every input bit over the whole word.
inline uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

// SplitMix64 (Steele, Lea, Flood): the value of a seeded generator's step
// `x`. Seeded data (generated lines, sensor readings, benchmark words) is
// drawn from it, so its output must never change.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The SplitMix64 generator: the next value, advancing `state`.
inline uint64_t splitmix64_next(uint64_t& state) {
  uint64_t x = state;
  state += 0x9e3779b97f4a7c15ULL;
  return splitmix64(x);
}

// Up to 16 bytes of text as two integers: its bytes, zero-padded to 16.
// Equal ShortTexts of equal length are equal texts. Longer texts leave a and
// b zero.
struct ShortText {
  uint64_t a = 0, b = 0;
  uint32_t len = 0;
  bool operator==(const ShortText& o) const { return ((a ^ o.a) | (b ^ o.b) | (len ^ o.len)) == 0; }
};

namespace detail {
inline uint64_t load_bytes(const char* p, std::size_t n) {
  uint64_t v = 0;
  std::memcpy(&v, p, n);
  return v;
}
inline uint64_t mul_mix(uint64_t a, uint64_t b) {
  __uint128_t r = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}
// Which bytes of each 8-byte half belong to a text of n <= 16 bytes.
struct ShortTextMasks {
  uint64_t lo[17], hi[17];
  constexpr ShortTextMasks() : lo(), hi() {
    for (int n = 0; n <= 16; ++n) {
      lo[n] = n >= 8 ? ~0ull : (1ull << (8 * n)) - 1;
      hi[n] = n >= 16 ? ~0ull : n <= 8 ? 0 : (1ull << (8 * (n - 8))) - 1;
    }
  }
};
inline constexpr ShortTextMasks kShortTextMasks{};
}  // namespace detail

// Masks rather than branches on the length, as word lengths are
// unpredictable (branching per length class cost a mispredict a word).
inline ShortText short_text(std::string_view s) {
  ShortText k;
  std::size_t n = s.size();
  k.len = static_cast<uint32_t>(n);
  // Over 16 bytes, or empty (whose pointer need not point at readable memory).
  if (__builtin_expect(n - 1 >= 16, 0)) return k;
  const char* p = s.data();
  uint64_t ab[2];
  if (__builtin_expect(detail::within_page<16>(p), 1)) {
    detail::load_within_page<16>(p, ab);
  } else {  // the 16 bytes would cross into the next page, which may be unmapped
    char padded[16] = {};
    std::memcpy(padded, p, n);
    std::memcpy(ab, padded, 16);
  }
  k.a = ab[0] & detail::kShortTextMasks.lo[n];
  k.b = ab[1] & detail::kShortTextMasks.hi[n];
  return k;
}

inline uint64_t hash_text(const ShortText& k, std::string_view s) {
  if (k.len > 16) return XXH3_64bits(s.data(), s.size());
  return detail::mul_mix(k.a ^ 0xa0761d6478bd642fULL ^ k.len, k.b ^ 0xe7037ed1a0b428dbULL);
}

template <class K>
uint64_t hash_key(const K& key) {
  if constexpr (std::is_convertible_v<const K&, std::string_view>) {
    std::string_view s = key;
    return hash_text(short_text(s), s);
  } else if constexpr (std::is_integral_v<K> || std::is_enum_v<K>) {
    return mix64(static_cast<uint64_t>(key));
  } else {
    return mix64(static_cast<uint64_t>(std::hash<K>{}(key)));
  }
}

// Which of n buckets a hash belongs to. Uses the high bits, so the low bits
// the reduce-side table looks at stay fully random within a bucket.
inline int bucket_of(uint64_t hash, int n) {
  return static_cast<int>(((hash >> 32) * static_cast<uint64_t>(n)) >> 32);
}

// Which of n partitions a key belongs to.
template <class K>
int partition_of(const K& key, int n) {
  return bucket_of(hash_key(key), n);
}

}  // namespace trib
