// How print(), saveAsTextFiles and the Redis sink render a record: strings
// as they are, numbers as numbers (floating point in the shortest form that
// reads back to the same value: 1234567.89, not 1.23457e+06), pairs as
// (a, b), sequences as [a, b]. User types render through their operator<<
// when they have one.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <spdlog/fmt/fmt.h>

#include "dstream/core/text.hpp"

namespace trib {

template <class T, class = void>
struct has_ostream : std::false_type {};
template <class T>
struct has_ostream<T, std::void_t<decltype(std::declval<std::ostream&>()
                                           << std::declval<const T&>())>>
    : std::true_type {};

inline void format_into(std::ostream& os, const std::string& s) { os << s; }
inline void format_into(std::ostream& os, const Text& s) { os << static_cast<std::string_view>(s); }
inline void format_into(std::ostream& os, const char* s) { os << s; }
inline void format_into(std::ostream& os, bool b) { os << (b ? "true" : "false"); }
// {fmt}'s "{}" is the shortest round-trip form; ostream's default keeps 6 digits.
inline void format_into(std::ostream& os, double x) { os << fmt::format("{}", x); }
inline void format_into(std::ostream& os, float x) { os << fmt::format("{}", x); }
inline void format_into(std::ostream& os, long double x) { os << fmt::format("{}", x); }

// Declared up front so nested types (a vector of pairs, ...) find each other.
template <class T>
void format_into(std::ostream& os, const T& x);
template <class A, class B>
void format_into(std::ostream& os, const std::pair<A, B>& p);
template <class T>
void format_into(std::ostream& os, const std::optional<T>& x);
template <class T>
void format_into(std::ostream& os, const std::vector<T>& xs);

template <class A, class B>
void format_into(std::ostream& os, const std::pair<A, B>& p) {
  os << '(';
  format_into(os, p.first);
  os << ", ";
  format_into(os, p.second);
  os << ')';
}

template <class T>
void format_into(std::ostream& os, const std::optional<T>& x) {
  if (x) format_into(os, *x);
  else os << "None";
}

template <class T>
void format_into(std::ostream& os, const std::vector<T>& xs) {
  os << '[';
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (i) os << ", ";
    format_into(os, xs[i]);
  }
  os << ']';
}

template <class T>
void format_into(std::ostream& os, const T& x) {
  static_assert(has_ostream<T>::value,
                "print() needs operator<< for this record type");
  os << x;
}

// "2026-11-24 20:01:07" (local time), with milliseconds when not whole.
std::string format_batch_time(int64_t batch_time_ms);

// "2026-01-01 00:01:00": wall time `ms` in UTC, to the whole second
// (milliseconds dropped), e.g. event-time window bounds.
std::string format_utc_ms(int64_t ms);

// Writes one print() block; to stdout unless the context set another stream.
void write_print_output(std::ostream* out, const std::string& text);

template <class T>
std::string format_value(const T& x) {
  std::ostringstream os;
  format_into(os, x);
  return os.str();
}

}  // namespace trib
