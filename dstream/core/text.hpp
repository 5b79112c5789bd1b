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
#include "dstream/core/word_scan.hpp"

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
// nothing. Found 64 bytes at a time (WordCursor in word_scan.hpp); for_each
// runs the scan as one loop, for callers that take every word.
class WordRange {
 public:
  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = Text;
    using difference_type = std::ptrdiff_t;
    using pointer = const Text*;
    using reference = Text;

    iterator() = default;  // the end
    explicit iterator(std::string_view s)
        : data_(s.data()), words_(s.data(), s.size()), done_(false) {
      ++*this;
    }
    Text operator*() const { return word_; }
    iterator& operator++() {
      std::size_t start, len;
      if (words_.next(&start, &len)) word_ = Text(data_ + start, len);
      else done_ = true;
      return *this;
    }
    bool operator==(const iterator& o) const {
      return done_ == o.done_ && (done_ || word_.data() == o.word_.data());
    }
    bool operator!=(const iterator& o) const { return !(*this == o); }

   private:
    const char* data_ = nullptr;
    WordCursor<> words_;
    Text word_;
    bool done_ = true;
  };

  explicit WordRange(std::string_view s) : s_(s) {}
  iterator begin() const { return iterator(s_); }
  iterator end() const { return iterator(); }

  // Calls f(Text) for every word, in order.
  template <class F>
  void for_each(F&& f) const {
    const char* data = s_.data();
    for_each_word(data, s_.size(), [&](std::size_t start, std::size_t len) { f(Text(data + start, len)); });
  }

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
    WordRange(line).for_each([&](Text w) { words.emplace_back(w.data(), w.size()); });
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
