// Text records, and the small helpers word-count style pipelines use.
//
// Text is what text sources produce: a view of one line inside a block of
// bytes a receiver read. It owns nothing, so the hot path never allocates a
// string per line or per word. A Text stays valid as long as the partition
// holding it: the engine keeps every block a partition's records point into
// alive with that partition (see Partition in dstream/core/partition.hpp).
//
// Where a record outlives its batch the engine copies it out: window
// histories detach their partitions (only the referenced bytes are copied),
// records sent to another process travel as bytes. State keyed by Text is
// refused at compile time: map keys to std::string before updateStateByKey or
// mapWithState. A foreachRDD function that keeps records after it returns
// must copy them (std::string(text)).
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include <cereal/cereal.hpp>

#include "dstream/core/owned.hpp"

namespace trib {

class Text : public std::string_view {
 public:
  constexpr Text() noexcept = default;
  constexpr Text(const char* s) noexcept : std::string_view(s) {}
  constexpr Text(const char* s, std::size_t n) noexcept : std::string_view(s, n) {}
  // Explicit: a view of a temporary string would dangle.
  constexpr explicit Text(std::string_view s) noexcept : std::string_view(s) {}

  // Copies out: code written for std::string records keeps working.
  operator std::string() const { return std::string(data(), size()); }
};

inline Text owned<Text>::view(const std::string& s) { return Text(s.data(), s.size()); }

// Same bytes as Cereal's std::string, so a vector<Text> decodes as a
// vector<std::string> on the other side (see owned_t in dstream/owned.hpp).
template <class Archive>
void save(Archive& ar, const Text& t) {
  ar(cereal::make_size_tag(static_cast<cereal::size_type>(t.size())));
  ar(cereal::binary_data(t.data(), t.size()));
}

namespace detail {
// ASCII whitespace as a table: one load per byte instead of six compares.
struct SpaceTable {
  bool is[256] = {};
  constexpr SpaceTable() {
    is[static_cast<unsigned char>(' ')] = is[static_cast<unsigned char>('\t')] = true;
    is[static_cast<unsigned char>('\n')] = is[static_cast<unsigned char>('\r')] = true;
    is[static_cast<unsigned char>('\f')] = is[static_cast<unsigned char>('\v')] = true;
  }
};
inline constexpr SpaceTable kSpaces{};
}  // namespace detail

// ASCII whitespace, inlined (std::isspace is a locale-aware library call).
inline bool is_space(char c) { return detail::kSpaces.is[static_cast<unsigned char>(c)]; }

// The words of one Text, as Texts into the same bytes; iterating allocates
// nothing.
class WordRange {
 public:
  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = Text;
    using difference_type = std::ptrdiff_t;
    using pointer = const Text*;
    using reference = Text;

    iterator(const char* p, const char* end) : end_(end) { advance(p); }
    Text operator*() const { return word_; }
    iterator& operator++() {
      advance(word_.data() + word_.size());
      return *this;
    }
    bool operator==(const iterator& o) const { return word_.data() == o.word_.data(); }
    bool operator!=(const iterator& o) const { return !(*this == o); }

   private:
    // True if one of the 8 bytes at p is below 0x21 or not ASCII (the
    // classic has-less-than bit trick); false means none is whitespace.
    static bool may_hold_space(const char* p) {
      uint64_t x;
      std::memcpy(&x, p, 8);
      return ((x - 0x2121212121212121ULL) | x) & 0x8080808080808080ULL;
    }

    void advance(const char* p) {
      while (p < end_ && is_space(*p)) ++p;
      const char* start = p;
      // Eight bytes at a time while no byte can be whitespace (every ASCII
      // whitespace byte is below 0x21); the last few bytes one by one.
      while (end_ - p >= 8 && !may_hold_space(p)) p += 8;
      while (p < end_ && !is_space(*p)) ++p;
      // At the end the word is empty and starts at end_: equal to end().
      word_ = Text(start, static_cast<std::size_t>(p - start));
    }
    const char* end_;
    Text word_;
  };

  explicit WordRange(std::string_view s) : s_(s) {}
  iterator begin() const { return iterator(s_.data(), s_.data() + s_.size()); }
  iterator end() const { return iterator(s_.data() + s_.size(), s_.data() + s_.size()); }

 private:
  std::string_view s_;
};

// The words of a line: maximal runs of non-whitespace characters.
// Of a Text: Texts into the same block (no copies). Of a std::string: owned
// strings, since the string may be a temporary of a map().
struct SplitWords {
  WordRange operator()(const Text& line) const { return WordRange(line); }
  std::vector<std::string> operator()(const std::string& line) const {
    std::vector<std::string> words;
    for (Text w : WordRange(line)) words.emplace_back(w.data(), w.size());
    return words;
  }
};
inline constexpr SplitWords split_words{};

}  // namespace trib

namespace std {
template <>
struct hash<trib::Text> {
  std::size_t operator()(const trib::Text& t) const noexcept {
    return std::hash<std::string_view>{}(t);
  }
};
}  // namespace std
