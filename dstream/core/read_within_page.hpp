// Reading a whole block at the end of a text, past its last byte.
//
// Memory is mapped in whole 4 KiB pages, so where p is readable every byte
// up to the end of p's page is too, even past the end of the object p is in.
// The hot scans use that to read a fixed-size block at a text's end (16 bytes
// of a short key, a word scan's last 64) instead of branching on its length,
// and mask off the bytes past the end before anyone looks at them. C++ and
// AddressSanitizer do not allow such reads, hence the attribute; the loads
// are plain ones because a memcpy call goes through AddressSanitizer's
// interceptor, which checks whatever the attribute says.
#pragma once

#include <cstddef>
#include <cstdint>

namespace trib::detail {

inline constexpr std::uintptr_t kPageBytes = 4096;

// Whether the N bytes from p lie in p's page.
template <std::size_t N>
inline bool within_page(const char* p) {
  return (reinterpret_cast<std::uintptr_t>(p) & (kPageBytes - 1)) <= kPageBytes - N;
}

// Copies the N bytes from p to out; only where within_page<N>(p).
template <std::size_t N>
[[gnu::no_sanitize_address]] inline void load_within_page(const char* p, uint64_t* out) {
  static_assert(N % 8 == 0, "whole 8-byte words");
  using Unaligned = uint64_t __attribute__((may_alias, aligned(1)));
  for (std::size_t i = 0; i < N / 8; ++i) out[i] = reinterpret_cast<const Unaligned*>(p)[i];
}

}  // namespace trib::detail
