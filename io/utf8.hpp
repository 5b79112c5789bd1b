// Text records are UTF-8. Input that is not (binary junk, Latin-1 files) is
// repaired rather than passed on or dropped: each invalid byte becomes
// U+FFFD, and the caller logs how many it replaced.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace trib {

// True when `s` is valid UTF-8. Plain ASCII, the common case, is checked
// eight bytes at a time.
bool is_valid_utf8(std::string_view s);

// Replaces invalid UTF-8 in `s` in place; returns the replacements made.
std::size_t sanitize_utf8(std::string& s);

}  // namespace trib
