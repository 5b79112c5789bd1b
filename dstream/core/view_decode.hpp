// Decoding records that hold views (Text) straight out of Cereal binary
// bytes: each Text points into the bytes, which the partition keeps alive,
// so a block received from another process costs no allocation or copy per
// record. Covers Text, std::string, arithmetic values and pairs of these:
// the records of text sources and of keyed shuffles. Other record types
// decode through their owned form (dstream/core/owned.hpp).
//
// The layout read here is Cereal's binary archive: a sequence is its length
// as a 64-bit size tag followed by its elements; a string is its length and
// its bytes; an arithmetic value is its native bytes; a pair is its first
// then its second. Tests check it against Cereal's own reader.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <cereal/details/helpers.hpp>

#include "dstream/core/text.hpp"

namespace trib {

template <class T>
struct view_decodable : std::bool_constant<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>> {};
template <>
struct view_decodable<Text> : std::true_type {};
template <>
struct view_decodable<std::string> : std::true_type {};
template <class A, class B>
struct view_decodable<std::pair<A, B>>
    : std::bool_constant<view_decodable<A>::value && view_decodable<B>::value> {};

template <class T>
inline constexpr bool view_decodable_v = view_decodable<T>::value;

class ViewReader {
 public:
  ViewReader(const char* data, std::size_t size) : p_(data), end_(data + size) {}

  // The records of a vector<T> as Cereal wrote it. Throws cereal::Exception
  // when the bytes end early or a length runs past them.
  template <class T>
  std::vector<T> read_vector() {
    uint64_t n = read_size();
    // Every record takes at least one byte: a larger count is corrupt, and
    // must not reserve memory on its word.
    if (n > remaining()) fail();
    std::vector<T> out;
    out.reserve(static_cast<std::size_t>(n));
    for (uint64_t i = 0; i < n; ++i) out.push_back(read<T>());
    return out;
  }

  bool at_end() const { return p_ == end_; }

 private:
  template <class T>
  T read() {
    if constexpr (std::is_same_v<T, Text>) {
      std::size_t n = read_length();
      Text t(p_, n);
      p_ += n;
      return t;
    } else if constexpr (std::is_same_v<T, std::string>) {
      std::size_t n = read_length();
      std::string s(p_, n);
      p_ += n;
      return s;
    } else if constexpr (std::is_arithmetic_v<T>) {
      need(sizeof(T));
      T v;
      std::memcpy(&v, p_, sizeof(T));
      p_ += sizeof(T);
      return v;
    } else {
      auto first = read<typename T::first_type>();
      return T(std::move(first), read<typename T::second_type>());
    }
  }

  uint64_t read_size() { return read<uint64_t>(); }
  std::size_t read_length() {
    uint64_t n = read_size();
    if (n > remaining()) fail();
    return static_cast<std::size_t>(n);
  }
  std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }
  void need(std::size_t n) const {
    if (n > remaining()) fail();
  }
  [[noreturn]] static void fail() {
    throw cereal::Exception("partition bytes end early or hold a length past their end");
  }

  const char* p_;
  const char* end_;
};

static_assert(std::is_same_v<cereal::size_type, uint64_t>,
              "ViewReader reads Cereal's size tags as 64-bit integers");

}  // namespace trib
