// The one way values become Cereal binary bytes and back (partitions, state
// partitions, window history, checkpoints, snapshots, log entries).
//
// The archives write into and read from the std::string itself: a
// std::ostringstream copies its whole buffer once more on str(), and a
// std::istringstream copies its input before the first read. For a
// partition of several megabytes those copies (into fresh, page-faulting
// memory) were a large part of sending it to another process.
#pragma once

#include <istream>
#include <ostream>
#include <streambuf>
#include <string>

#include <cereal/archives/binary.hpp>

namespace trib {

namespace detail {

// Appends everything written to it to a std::string.
class StringSinkBuf : public std::streambuf {
 public:
  explicit StringSinkBuf(std::string& out) : out_(out) {}

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    out_.append(s, static_cast<std::size_t>(n));
    return n;
  }
  int_type overflow(int_type c) override {
    if (!traits_type::eq_int_type(c, traits_type::eof())) out_.push_back(traits_type::to_char_type(c));
    return traits_type::not_eof(c);
  }

 private:
  std::string& out_;
};

// Reads bytes it does not own, without copying them first.
class ViewSourceBuf : public std::streambuf {
 public:
  ViewSourceBuf(const char* data, std::size_t size) {
    char* begin = const_cast<char*>(data);  // the get area is only read
    setg(begin, begin, begin + size);
  }
};

}  // namespace detail

template <class... T>
std::string to_cereal_bytes(const T&... values) {
  std::string bytes;
  detail::StringSinkBuf buf(bytes);
  std::ostream out(&buf);
  {
    cereal::BinaryOutputArchive archive(out);
    archive(values...);
  }
  return bytes;
}

// Reads `values` back in the order they were written; throws
// cereal::Exception if the bytes end early or do not decode.
template <class... T>
void from_cereal_bytes(const std::string& bytes, T&... values) {
  detail::ViewSourceBuf buf(bytes.data(), bytes.size());
  std::istream in(&buf);
  cereal::BinaryInputArchive archive(in);
  archive(values...);
}

}  // namespace trib
