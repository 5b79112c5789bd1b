// Event time: timestamps, watermarks and the shapes of event-time windows.
// Included by dstream/dstream.hpp; the windowed operators are in
// dstream/event_window_ops.hpp.
//
//   stream.withTimestamps(extract, max_out_of_orderness, idle_timeout)
//     extract(const T&) -> int64_t event time in ms. Gives an EventTimeStream.
//
// The watermark (Flink's forBoundedOutOfOrderness, Structured Streaming's
// withWatermark) says "no record older than this is still expected":
//   per input channel (each partition of the stream, so each source's
//   partitions count separately): max event time seen - max_out_of_orderness;
//   watermark = the minimum over the channels that saw a record within the
//   last idle_timeout of processing time (0: a channel never counts as idle);
//   it never goes back. Channels that never saw a record do not hold it back.
// It advances once per batch: computed at the end of batch b from everything
// up to b, and used by batch b + 1 (as in Structured Streaming), for lateness
// and for closing windows. The event-time operator keeps it in its state, so
// checkpoints carry it and a restore resumes with it; BatchInfo::watermark_ms
// shows the watermark each batch ran with.
//
// Windows are half-open, [start, end), in event time:
//   EventWindows::tumbling(size)          start = multiples of size
//   EventWindows::sliding(size, slide)    start = multiples of slide; slide <= size
//   EventWindows::session(gap)            per key: a record at ts opens [ts, ts + gap);
//                                         windows that overlap or touch merge
// A window is complete when watermark >= end + allowed lateness: then its state
// is dropped and, in append mode, its result is emitted (once). A record is late
// when every window it belongs to is complete (for a session: when its own
// window [ts, ts + gap) is complete and merges with no open session): it is
// dropped, counted (BatchInfo::late_records) and handed to lateRecords().
// Within a batch a key's records are applied in event-time order (ties in
// arrival order), so the result does not depend on how records were batched
// within the batch.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "dstream/dstream.hpp"

namespace trib {

inline constexpr int64_t kNoWatermark = std::numeric_limits<int64_t>::min();

// x rounded down to a multiple of step (also for negative x).
inline int64_t floor_to_multiple(int64_t x, int64_t step) {
  int64_t r = x % step;
  return r < 0 ? x - r - step : x - r;
}

// The watermark of one event-time operator, from the per-channel maxima.
struct WatermarkTracker {
  struct Channel {
    int64_t max_ts = kNoWatermark;    // kNoWatermark: never saw a record
    int64_t last_active_ms = 0;       // batch time of its last record
    template <class A>
    void serialize(A& archive) { archive(max_ts, last_active_ms); }
  };

  int64_t bound_ms = 0;  // max out-of-orderness
  int64_t idle_ms = 0;   // 0: never idle
  int64_t watermark = kNoWatermark;
  std::vector<Channel> channels;

  // End of batch t: channel j saw records up to max_ts[j] (kNoWatermark: none).
  void advance(int64_t t, const std::vector<int64_t>& max_ts) {
    if (channels.size() < max_ts.size()) channels.resize(max_ts.size());
    for (std::size_t j = 0; j < max_ts.size(); ++j)
      if (max_ts[j] != kNoWatermark) {
        channels[j].max_ts = std::max(channels[j].max_ts, max_ts[j]);
        channels[j].last_active_ms = t;
      }
    std::optional<int64_t> low;
    for (const auto& c : channels) {
      if (c.max_ts == kNoWatermark) continue;
      if (idle_ms > 0 && t - c.last_active_ms > idle_ms) continue;
      int64_t w = c.max_ts - bound_ms;
      low = low ? std::min(*low, w) : w;
    }
    if (low && *low > watermark) watermark = *low;
  }

  template <class A>
  void serialize(A& archive) { archive(watermark, channels); }
};

struct EventWindows {
  enum class Kind { tumbling, sliding, session };
  Kind kind = Kind::tumbling;
  int64_t size_ms = 0, slide_ms = 0, gap_ms = 0;

  static EventWindows tumbling(std::chrono::milliseconds size) {
    if (size.count() <= 0)
      throw std::invalid_argument("EventWindows::tumbling: size must be positive, got " +
                                  std::to_string(size.count()) + " ms");
    return {Kind::tumbling, size.count(), size.count(), 0};
  }
  static EventWindows sliding(std::chrono::milliseconds size, std::chrono::milliseconds slide) {
    if (size.count() <= 0 || slide.count() <= 0 || slide > size)
      throw std::invalid_argument("EventWindows::sliding: need 0 < slide <= size, got size " +
                                  std::to_string(size.count()) + " ms, slide " +
                                  std::to_string(slide.count()) + " ms");
    return {Kind::sliding, size.count(), slide.count(), 0};
  }
  static EventWindows session(std::chrono::milliseconds gap) {
    if (gap.count() <= 0)
      throw std::invalid_argument("EventWindows::session: gap must be positive, got " +
                                  std::to_string(gap.count()) + " ms");
    return {Kind::session, 0, 0, gap.count()};
  }

  bool is_session() const { return kind == Kind::session; }
  std::string describe() const {
    if (kind == Kind::session) return "session " + std::to_string(gap_ms);
    if (kind == Kind::tumbling) return "tumbling " + std::to_string(size_ms);
    return "sliding " + std::to_string(size_ms) + "/" + std::to_string(slide_ms);
  }
};

// append: a window's result once, when it is complete; update: every window
// that changed in the batch, with its current result (Structured Streaming's
// output modes).
enum class OutputMode { append, update };

// One window's result for one key.
template <class K, class R>
struct WindowResult {
  K key;
  int64_t start_ms = 0, end_ms = 0;  // [start, end) in event time
  R value;

  template <class A>
  void serialize(A& archive) { archive(key, start_ms, end_ms, value); }
  bool operator==(const WindowResult& o) const {
    return key == o.key && start_ms == o.start_ms && end_ms == o.end_ms && value == o.value;
  }
  bool operator<(const WindowResult& o) const {
    return std::tie(start_ms, end_ms, key) < std::tie(o.start_ms, o.end_ms, o.key);
  }
};

// print(): "([start, end), key, value)".
template <class K, class R>
std::ostream& operator<<(std::ostream& os, const WindowResult<K, R>& w) {
  os << "([" << w.start_ms << ", " << w.end_ms << "), ";
  format_into(os, w.key);
  os << ", ";
  format_into(os, w.value);
  return os << ')';
}

// How a window folds its values: create(first value), add(acc, value),
// merge(acc, acc) (session merges), result(acc).
template <class V, class A, class R>
struct WindowAggregation {
  std::function<A(const V&)> create;
  std::function<A(const A&, const V&)> add;
  std::function<A(const A&, const A&)> merge;
  std::function<R(const A&)> result;
  std::string name;
};

template <class K, class R, class T>
class EventWindowDStream;

// A keyed stream with event time, windowed: choose lateness and output mode,
// then aggregate. T is std::pair<K, V>.
template <class T>
class EventWindowedStream {
 public:
  using K = typename pair_traits<T>::key_type;
  using V = typename pair_traits<T>::value_type;

  EventWindowedStream(DStream<T> stream, std::function<int64_t(const T&)> extract, int64_t bound_ms,
                      int64_t idle_ms, EventWindows windows)
      : stream_(std::move(stream)), extract_(std::move(extract)), bound_ms_(bound_ms),
        idle_ms_(idle_ms), windows_(windows) {}

  // Windows stay open (and take records) until watermark >= end + lateness.
  EventWindowedStream allowedLateness(std::chrono::milliseconds lateness) const {
    if (lateness.count() < 0)
      throw std::invalid_argument("allowedLateness: must be >= 0, got " +
                                  std::to_string(lateness.count()) + " ms");
    auto s = *this;
    s.lateness_ms_ = lateness.count();
    return s;
  }
  EventWindowedStream outputMode(OutputMode mode) const {
    auto s = *this;
    s.mode_ = mode;
    return s;
  }
  // Reduce partitions the keys are spread over (0: the context's default).
  EventWindowedStream partitions(int n) const {
    if (n < 0) throw std::invalid_argument("partitions must be >= 0");
    auto s = *this;
    s.partitions_ = n;
    return s;
  }

  // f(V, V) -> V, associative and commutative.
  template <class F>
  EventWindowDStream<K, V, T> reduce(F f) const {
    WindowAggregation<V, V, V> agg{[](const V& v) { return v; }, f, f,
                                   [](const V& a) { return a; }, "reduce"};
    return build<V, V>(std::move(agg));
  }
  EventWindowDStream<K, int64_t, T> count() const {
    WindowAggregation<V, int64_t, int64_t> agg{
        [](const V&) { return int64_t{1}; }, [](const int64_t& a, const V&) { return a + 1; },
        [](const int64_t& a, const int64_t& b) { return a + b; },
        [](const int64_t& a) { return a; }, "count"};
    return build<int64_t, int64_t>(std::move(agg));
  }
  // Flink's AggregateFunction: the window starts from `zero`, add(acc, v)
  // folds a value in, merge(acc, acc) combines (session merges),
  // result(acc) gives the output.
  template <class A, class Add, class Merge, class Result>
  auto aggregate(A zero, Add add, Merge merge, Result result) const {
    using R = std::decay_t<std::invoke_result_t<Result&, const A&>>;
    WindowAggregation<V, A, R> agg{[zero, add](const V& v) { return add(zero, v); }, add, merge,
                                   result, "aggregate"};
    return build<A, R>(std::move(agg));
  }

 private:
  template <class A, class R>
  EventWindowDStream<K, R, T> build(WindowAggregation<V, A, R> agg) const;

  DStream<T> stream_;
  std::function<int64_t(const T&)> extract_;
  int64_t bound_ms_, idle_ms_;
  EventWindows windows_;
  int64_t lateness_ms_ = 0;
  OutputMode mode_ = OutputMode::append;
  int partitions_ = 0;
};

// A stream whose records carry event time, with its watermark strategy.
template <class T>
class EventTimeStream {
 public:
  EventTimeStream(DStream<T> stream, std::function<int64_t(const T&)> extract, int64_t bound_ms,
                  int64_t idle_ms)
      : stream_(std::move(stream)), extract_(std::move(extract)), bound_ms_(bound_ms),
        idle_ms_(idle_ms) {}

  // Keyed event-time windows over a stream of std::pair<K, V>.
  EventWindowedStream<T> window(EventWindows windows) const {
    static_assert(pair_traits<T>::value,
                  "event-time windows need a stream of std::pair<K, V> (key, value)");
    return EventWindowedStream<T>(stream_, extract_, bound_ms_, idle_ms_, windows);
  }

  const DStream<T>& stream() const { return stream_; }

 private:
  DStream<T> stream_;
  std::function<int64_t(const T&)> extract_;
  int64_t bound_ms_, idle_ms_;
};

template <class T>
template <class F>
EventTimeStream<T> DStream<T>::withTimestamps(F extract, Duration max_out_of_orderness,
                                              Duration idle_timeout) const {
  if (max_out_of_orderness.count() < 0)
    throw std::invalid_argument("withTimestamps: max_out_of_orderness must be >= 0, got " +
                                std::to_string(max_out_of_orderness.count()) + " ms");
  if (idle_timeout.count() < 0)
    throw std::invalid_argument("withTimestamps: idle_timeout must be >= 0 (0: never idle), got " +
                                std::to_string(idle_timeout.count()) + " ms");
  return EventTimeStream<T>(*this, std::function<int64_t(const T&)>(std::move(extract)),
                            max_out_of_orderness.count(), idle_timeout.count());
}

}  // namespace trib

#include "dstream/event_window_ops.hpp"
