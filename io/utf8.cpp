#include "io/utf8.hpp"

#include <cstdint>
#include <cstring>

namespace trib {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid.
std::size_t valid_sequence(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  std::size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) len = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;  // no overlong forms
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < len; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return len;
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0, n = s.size();
  while (true) {
    for (; i + 8 <= n; i += 8) {
      uint64_t word;
      std::memcpy(&word, s.data() + i, 8);
      if (word & 0x8080808080808080ULL) break;
    }
    while (i < n && static_cast<unsigned char>(s[i]) < 0x80) ++i;
    if (i == n) return true;
    std::size_t len = valid_sequence(s, i);
    if (len == 0) return false;
    i += len;
  }
}

std::size_t sanitize_utf8(std::string& s) {
  std::size_t i = 0;
  while (i < s.size() && static_cast<unsigned char>(s[i]) < 0x80) ++i;
  if (i == s.size()) return 0;  // the common case: plain ASCII, untouched
  std::string out = s.substr(0, i);
  std::size_t replaced = 0;
  while (i < s.size()) {
    if (std::size_t len = valid_sequence(s, i)) {
      out.append(s, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++replaced;
      ++i;
    }
  }
  if (replaced) s = std::move(out);
  return replaced;
}

}  // namespace trib
