// owned_t<T>: the form of a record type that owns all its bytes.
//
// Records that hold views (Text) cannot be decoded into views of nothing:
// a partition of such records is decoded as its owned form (Text becomes
// std::string, inside pairs, vectors and optionals too), kept alive by the
// partition, and viewed again as T.
#pragma once

#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace trib {

class Text;  // dstream/core/text.hpp

template <class T>
struct owned {
  using type = T;
  static const T& view(const type& x) { return x; }
};

template <>
struct owned<Text> {
  using type = std::string;
  static Text view(const type& s);  // defined in dstream/core/text.hpp
};

template <class A, class B>
struct owned<std::pair<A, B>> {
  using type = std::pair<typename owned<A>::type, typename owned<B>::type>;
  static std::pair<A, B> view(const type& p) {
    return {owned<A>::view(p.first), owned<B>::view(p.second)};
  }
};

template <class X>
struct owned<std::vector<X>> {
  using type = std::vector<typename owned<X>::type>;
  static std::vector<X> view(const type& xs) {
    std::vector<X> out;
    out.reserve(xs.size());
    for (const auto& x : xs) out.push_back(owned<X>::view(x));
    return out;
  }
};

template <class X>
struct owned<std::optional<X>> {
  using type = std::optional<typename owned<X>::type>;
  static std::optional<X> view(const type& x) {
    if (!x) return std::nullopt;
    return owned<X>::view(*x);
  }
};

template <class T>
using owned_t = typename owned<T>::type;

// True when records of type T point into bytes they do not own.
template <class T>
inline constexpr bool holds_views_v = !std::is_same_v<T, owned_t<T>>;

}  // namespace trib
