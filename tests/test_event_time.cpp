// Event-time windows against a plain loop. The input is out of order within
// a bound, with some records far beyond the allowed lateness; the oracle
// sorts each batch by event time and applies the definitions of
// dstream/event_time.hpp directly: per-partition maxima (the batch sliced as
// Spark slices a collection), the watermark one batch behind, windows that
// close at end + lateness, late records dropped.
#define BOOST_TEST_MODULE event_time
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <tuple>

#include "job_helpers.hpp"

namespace {

using Value = std::pair<int64_t, int64_t>;  // (event time, value)
using Rec = std::pair<std::string, Value>;
using ms = std::chrono::milliseconds;
constexpr int64_t kNone = INT64_MIN;

struct Shape {
  char kind;  // 't'umbling, 's'liding, 'g' session
  int64_t size, slide, gap;
};

// (key, start, end) -> (sum, count)
using Windows = std::map<std::tuple<std::string, int64_t, int64_t>, std::pair<int64_t, int64_t>>;
using Emitted = std::vector<std::tuple<std::string, int64_t, int64_t, int64_t, int64_t>>;

struct OracleRun {
  std::vector<Emitted> out;                 // per batch
  std::vector<int64_t> watermark;           // the watermark each batch ran with
  std::vector<std::vector<Rec>> late;       // per batch
};

OracleRun oracle_run(const std::vector<std::vector<Rec>>& in, const std::vector<int64_t>& times,
                     int partitions, Shape shape, int64_t bound, int64_t idle, int64_t lateness,
                     bool append) {
  OracleRun run;
  int64_t wm = kNone;
  std::vector<std::pair<int64_t, int64_t>> channel(partitions, {kNone, 0});  // max, last active
  Windows open;
  for (std::size_t b = 0; b < in.size(); ++b) {
    Emitted out;
    std::vector<Rec> late;
    run.watermark.push_back(wm);
    auto closed = [&](int64_t end) { return wm != kNone && end + lateness <= wm; };
    for (auto it = open.begin(); it != open.end();) {
      auto& [key, start, end] = it->first;
      if (closed(end)) {
        if (append) out.emplace_back(key, start, end, it->second.first, it->second.second);
        it = open.erase(it);
      } else {
        ++it;
      }
    }
    std::vector<Rec> batch = in[b];
    std::stable_sort(batch.begin(), batch.end(),
                     [](const Rec& a, const Rec& c) { return a.second.first < c.second.first; });
    std::set<std::tuple<std::string, int64_t, int64_t>> touched;
    for (const auto& [key, tv] : batch) {
      auto [ts, v] = tv;
      bool taken = false;
      if (shape.kind == 'g') {
        int64_t s = ts, e = ts + shape.gap, sum = v, cnt = 1;
        std::vector<std::tuple<std::string, int64_t, int64_t>> merge;
        for (auto& [w, acc] : open)
          if (std::get<0>(w) == key && std::get<1>(w) <= ts + shape.gap && std::get<2>(w) >= ts)
            merge.push_back(w);
        if (!merge.empty() || !closed(e)) {
          for (auto& w : merge) {
            s = std::min(s, std::get<1>(w));
            e = std::max(e, std::get<2>(w));
            sum += open[w].first;
            cnt += open[w].second;
            open.erase(w);
            touched.erase(w);
          }
          open[{key, s, e}] = {sum, cnt};
          touched.insert({key, s, e});
          taken = true;
        }
      } else {
        // Starts are multiples of the slide with start <= ts < start + size.
        int64_t first = ts - shape.size + 1;
        int64_t s = first >= 0 ? (first + shape.slide - 1) / shape.slide * shape.slide
                               : -((-first) / shape.slide * shape.slide);
        for (; s <= ts; s += shape.slide) {
          if (closed(s + shape.size)) continue;
          auto& acc = open[{key, s, s + shape.size}];
          acc.first += v;
          acc.second += 1;
          touched.insert({key, s, s + shape.size});
          taken = true;
        }
      }
      if (!taken) late.emplace_back(key, tv);
    }
    if (!append)
      for (auto& w : touched) out.emplace_back(std::get<0>(w), std::get<1>(w), std::get<2>(w), open[w].first, open[w].second);
    // The watermark for the next batch: partition i of the batch holds
    // records [i*n/P, (i+1)*n/P) in arrival order.
    std::size_t n = in[b].size();
    for (int p = 0; p < partitions; ++p) {
      for (std::size_t j = p * n / partitions; j < (p + 1) * n / partitions; ++j) {
        channel[p].first = std::max(channel[p].first, in[b][j].second.first);
        channel[p].second = times[b];
      }
    }
    std::optional<int64_t> low;
    for (auto& [mx, last] : channel)
      if (mx != kNone && (idle == 0 || times[b] - last <= idle)) low = low ? std::min(*low, mx - bound) : mx - bound;
    if (low && *low > wm) wm = *low;
    std::sort(out.begin(), out.end());
    std::sort(late.begin(), late.end());
    run.out.push_back(out);
    run.late.push_back(late);
  }
  return run;
}

// Event time advances 100 ms per batch; records lag it by up to `disorder`,
// and about 1 in 20 lags it by far more than the bound plus the lateness.
// The last batch moves every partition's event time far ahead, so the
// windows before it close.
std::vector<std::vector<Rec>> random_input(unsigned seed, int batches, int64_t disorder,
                                           int partitions) {
  std::mt19937 rng(seed);
  std::vector<std::vector<Rec>> in;
  for (int b = 0; b < batches; ++b) {
    std::vector<Rec> batch;
    int n = b % 7 == 3 ? 0 : static_cast<int>(rng() % 25);
    for (int i = 0; i < n; ++i) {
      int64_t ts = 1000 + 100 * b - static_cast<int64_t>(rng() % (disorder + 1));
      if (rng() % 20 == 0) ts -= 2000 + static_cast<int64_t>(rng() % 500);
      batch.emplace_back("k" + std::to_string(rng() % 5), Value(ts, 1 + static_cast<int64_t>(rng() % 9)));
    }
    in.push_back(batch);
  }
  std::vector<Rec> flush;
  for (int i = 0; i < 2 * partitions; ++i) flush.emplace_back("k0", Value(1000 + 100 * batches + 100000, 1));
  in.push_back(flush);
  in.emplace_back();
  in.emplace_back();
  return in;
}

template <class R>
Emitted as_emitted(const std::vector<trib::WindowResult<std::string, R>>& rows,
                   int64_t (*sum)(const R&), int64_t (*count)(const R&)) {
  Emitted e;
  for (auto& w : rows) e.emplace_back(w.key, w.start_ms, w.end_ms, sum(w.value), count(w.value));
  std::sort(e.begin(), e.end());
  return e;
}

}  // namespace

BOOST_AUTO_TEST_CASE(event_time_windows_match_a_plain_loop) {
  const std::vector<Shape> shapes = {{'t', 300, 300, 0}, {'s', 400, 200, 0}, {'g', 0, 0, 150}};
  const int64_t bound = 250, lateness = 200;
  unsigned seed = 0;
  for (auto shape : shapes) {
    for (int partitions : {1, 3}) {
      for (int64_t idle : {int64_t{0}, int64_t{60}}) {
        ++seed;
        auto in = random_input(seed, 30, bound, partitions);
        trib::StreamingOptions opts;
        opts.partitions = partitions;
        trib::StreamingContext ssc(ms(10), opts);
        auto q = std::make_shared<trib::BatchQueue<Rec>>();
        for (auto& b : in) q->push(b);
        auto windows = shape.kind == 't'   ? trib::EventWindows::tumbling(ms(shape.size))
                       : shape.kind == 's' ? trib::EventWindows::sliding(ms(shape.size), ms(shape.slide))
                                           : trib::EventWindows::session(ms(shape.gap));
        auto events = ssc.queueStream(q)
                          .withTimestamps([](const Rec& r) { return r.second.first; }, ms(bound), ms(idle))
                          .window(windows)
                          .allowedLateness(ms(lateness));
        using Sum = std::pair<int64_t, int64_t>;
        auto plus = [](const Value& a, const Value& b) { return Value(std::max(a.first, b.first), a.second + b.second); };
        auto sum_count_add = [](const Sum& a, const Value& v) { return Sum(a.first + v.second, a.second + 1); };
        auto sum_count_merge = [](const Sum& a, const Sum& b) { return Sum(a.first + b.first, a.second + b.second); };
        auto identity = [](const Sum& a) { return a; };
        struct Outputs {
          std::shared_ptr<testing::Collector<trib::WindowResult<std::string, Value>>> reduced;
          std::shared_ptr<testing::Collector<trib::WindowResult<std::string, int64_t>>> counted;
          std::shared_ptr<testing::Collector<trib::WindowResult<std::string, Sum>>> aggregated;
          std::shared_ptr<testing::Collector<Rec>> late;
        };
        std::map<bool, Outputs> got;
        for (bool append : {true, false}) {
          auto w = events.outputMode(append ? trib::OutputMode::append : trib::OutputMode::update);
          auto reduced = w.reduce(plus);
          got[append].reduced = testing::collect<trib::WindowResult<std::string, Value>>(reduced);
          got[append].late = testing::collect(reduced.lateRecords());
          got[append].counted = testing::collect<trib::WindowResult<std::string, int64_t>>(w.count());
          got[append].aggregated = testing::collect<trib::WindowResult<std::string, Sum>>(
              w.aggregate(Sum(0, 0), sum_count_add, sum_count_merge, identity));
        }
        testing::run_batches(ssc, in.size());
        auto infos = ssc.completedBatches();
        BOOST_REQUIRE_GE(infos.size(), in.size());
        std::vector<int64_t> times;
        for (std::size_t b = 0; b < in.size(); ++b) times.push_back(infos[b].batch_time_ms);

        std::map<bool, OracleRun> oracle;
        for (bool append : {true, false})
          oracle[append] = oracle_run(in, times, partitions, shape, bound, idle, lateness, append);
        for (bool append : {true, false}) {
          const auto& want = oracle[append];
          auto reduced = got[append].reduced->get();
          auto counted = got[append].counted->get();
          auto aggregated = got[append].aggregated->get();
          auto late = got[append].late->get();
          BOOST_TEST_CONTEXT(shape.kind << " " << partitions << " partitions, idle " << idle << ", "
                                        << (append ? "append" : "update") << ", seed " << seed) {
            BOOST_REQUIRE_GE(reduced.size(), in.size());
            std::size_t emitted = 0, late_total = 0;
            for (std::size_t b = 0; b < in.size(); ++b) {
              BOOST_TEST_CONTEXT("batch " << b) {
                auto r = as_emitted<Value>(reduced[b].second, [](const Value& v) { return v.second; },
                                           [](const Value&) { return int64_t{0}; });
                auto c = as_emitted<int64_t>(counted[b].second, [](const int64_t&) { return int64_t{0}; },
                                             [](const int64_t& n) { return n; });
                auto a = as_emitted<Sum>(aggregated[b].second, [](const Sum& s) { return s.first; },
                                         [](const Sum& s) { return s.second; });
                Emitted want_r, want_c;
                for (auto [k, s, e, sum, cnt] : want.out[b]) {
                  want_r.emplace_back(k, s, e, sum, 0);
                  want_c.emplace_back(k, s, e, 0, cnt);
                }
                BOOST_TEST((r == want_r));
                BOOST_TEST((c == want_c));
                BOOST_TEST((a == want.out[b]));
                auto l = late[b].second;
                std::sort(l.begin(), l.end());
                BOOST_TEST((l == want.late[b]));
                BOOST_TEST((infos[b].watermark_ms.value_or(kNone) == want.watermark[b]));
                // Three operators per mode, each counting its own late records.
                std::size_t late_here = oracle[true].late[b].size() + oracle[false].late[b].size();
                BOOST_TEST(infos[b].late_records == static_cast<int64_t>(3 * late_here));
                emitted += want.out[b].size();
                late_total += want.late[b].size();
              }
            }
            // The input must exercise what is tested.
            BOOST_TEST(emitted > 10u);
            BOOST_TEST(late_total > 0u);
          }
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(an_idle_partition_stops_holding_the_watermark_back) {
  // Two partitions; after the first batch every batch has one record, which
  // lands in partition 1, so partition 0 goes quiet at event time 1000.
  for (int64_t idle : {int64_t{0}, int64_t{50}}) {
    trib::StreamingOptions opts;
    opts.partitions = 2;
    trib::StreamingContext ssc(ms(10), opts);
    auto q = std::make_shared<trib::BatchQueue<Rec>>();
    q->push({{"a", {1000, 1}}, {"b", {1000, 1}}});
    for (int b = 1; b < 12; ++b) q->push({{"a", {1000 + 100 * b, 1}}});
    auto out = testing::collect<trib::WindowResult<std::string, int64_t>>(
        ssc.queueStream(q)
            .withTimestamps([](const Rec& r) { return r.second.first; }, ms(0), ms(idle))
            .window(trib::EventWindows::tumbling(ms(100)))
            .count());
    testing::run_batches(ssc, 12);
    auto infos = ssc.completedBatches();
    BOOST_REQUIRE_GE(infos.size(), 12u);
    BOOST_TEST(infos[0].watermark_ms.has_value() == false);  // nothing seen before batch 0
    BOOST_TEST(*infos[1].watermark_ms == 1000);
    if (idle == 0) {
      BOOST_TEST(*infos[11].watermark_ms == 1000, "a quiet partition holds the watermark");
    } else {
      // Partition 0 last saw a record at batch 0: idle once more than 50 ms
      // of batches passed; then the watermark follows partition 1.
      int64_t t0 = infos[0].batch_time_ms;
      for (std::size_t b = 1; b < 12; ++b) {
        bool idle_now = infos[b - 1].batch_time_ms - t0 > idle;
        int64_t want = idle_now ? 1000 + 100 * static_cast<int64_t>(b - 1) : 1000;
        BOOST_TEST(*infos[b].watermark_ms == want, "batch " << b);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(window_state_below_the_watermark_is_purged) {
  // A steady key set over a long run: the windows held stay flat instead of
  // growing with the run.
  trib::StreamingOptions opts;
  opts.partitions = 2;
  trib::StreamingContext ssc(ms(5), opts);
  auto q = std::make_shared<trib::BatchQueue<Rec>>();
  const int batches = 240;
  std::mt19937 rng(7);
  for (int b = 0; b < batches; ++b) {
    std::vector<Rec> batch;
    for (int k = 0; k < 8; ++k)
      batch.emplace_back("k" + std::to_string(k), Value(100 * b - static_cast<int64_t>(rng() % 150), 1));
    q->push(batch);
  }
  auto events = ssc.queueStream(q).withTimestamps([](const Rec& r) { return r.second.first; }, ms(150));
  auto sliding = events.window(trib::EventWindows::sliding(ms(400), ms(100))).allowedLateness(ms(100));
  testing::collect<trib::WindowResult<std::string, int64_t>>(sliding.count());
  testing::collect<trib::WindowResult<std::string, int64_t>>(
      events.window(trib::EventWindows::session(ms(50))).outputMode(trib::OutputMode::update).count());
  testing::run_batches(ssc, batches);
  auto infos = ssc.completedBatches();
  // Disorder makes the count jitter by a few windows; kept state would grow
  // by about 16 windows every batch instead.
  int64_t early = 0, late = 0;
  for (int b = 20; b < 80; ++b) early = std::max(early, infos[b].event_windows_open);
  for (int b = 160; b < batches; ++b) late = std::max(late, infos[b].event_windows_open);
  BOOST_TEST(early > 0);
  BOOST_TEST(late <= early + early / 5, "windows held grew from " << early << " to " << late);
  // An upper bound from the definitions: 8 keys x (sliding windows open
  // over size + lateness + bound + one batch of event time, 4 + 1 + 2 + 1
  // per slide, plus sessions reaching back as far).
  BOOST_TEST(late <= 8 * (9 + 9));
}

// A bounded source (one that calls end_of_input) ends the job; its last
// batch fires every window still open, as Flink's final watermark does.
// Event times only grow, so nothing is late wherever the batches are cut,
// and the windows emitted over the whole run must be exactly the windows of
// all the records, each once.
class BoundedEvents final : public trib::Receiver {
 public:
  explicit BoundedEvents(std::vector<std::string> lines) : lines_(std::move(lines)) {}
  std::string describe() const override { return "bounded events"; }
  void run(trib::ReceiverContext& ctx) override {
    for (std::size_t at = 0; at < lines_.size(); at += 250) {
      std::size_t end = std::min(lines_.size(), at + 250);
      ctx.store(std::vector<std::string>(lines_.begin() + at, lines_.begin() + end));
      if (!ctx.wait_for(ms(15))) return;
    }
    ctx.end_of_input();
  }

 private:
  std::vector<std::string> lines_;
};

BOOST_AUTO_TEST_CASE(when_the_input_ends_every_open_window_fires) {
  const std::vector<Shape> shapes = {{'t', 300, 300, 0}, {'s', 400, 200, 0}, {'g', 0, 0, 50}};
  std::vector<std::string> lines;
  std::vector<Rec> records;
  int64_t ts = 1000;
  for (int i = 0; i < 2000; ++i) {
    ts += i % 150 == 149 ? 700 : 7;  // now and then a pause longer than the session gap
    Rec r("k" + std::to_string(i % 4), Value(ts, 1 + i % 5));
    lines.push_back(r.first + " " + std::to_string(ts) + " " + std::to_string(r.second.second));
    records.push_back(r);
  }
  for (auto shape : shapes) {
    // The oracle: every window of every record, summed.
    Windows want;
    std::map<std::string, std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t>>> sessions;
    for (const auto& [key, tv] : records) {
      auto [t, v] = tv;
      if (shape.kind == 'g') {
        auto& list = sessions[key];  // in event-time order: a session ends or grows
        if (list.empty() || t > std::get<1>(list.back())) list.emplace_back(t, t + shape.gap, 0, 0);
        auto& [s, e, sum, cnt] = list.back();
        e = std::max(e, t + shape.gap);
        sum += v;
        cnt += 1;
      } else {
        for (int64_t s = t / shape.slide * shape.slide; s > t - shape.size; s -= shape.slide) {
          auto& acc = want[{key, s, s + shape.size}];
          acc.first += v;
          acc.second += 1;
        }
      }
    }
    for (auto& [key, list] : sessions)
      for (auto [s, e, sum, cnt] : list) want[{key, s, e}] = {sum, cnt};

    trib::StreamingOptions opts;
    opts.partitions = 2;
    trib::StreamingContext ssc(ms(40), opts);
    auto windows = shape.kind == 't'   ? trib::EventWindows::tumbling(ms(shape.size))
                   : shape.kind == 's' ? trib::EventWindows::sliding(ms(shape.size), ms(shape.slide))
                                       : trib::EventWindows::session(ms(shape.gap));
    using Sum = std::pair<int64_t, int64_t>;
    auto windowed = ssc.receiverStream([lines] { return std::make_unique<BoundedEvents>(lines); })
                        .map([](trib::Text line) {
                          char key[16];
                          long long t = 0, v = 0;
                          std::string text(line);
                          if (std::sscanf(text.c_str(), "%15s %lld %lld", key, &t, &v) != 3)
                            throw std::runtime_error("bad line " + text);
                          return Rec(key, Value(t, v));
                        })
                        .withTimestamps([](const Rec& r) { return r.second.first; }, ms(100))
                        .window(windows)
                        .aggregate(
                            Sum(0, 0), [](const Sum& a, const Value& v) { return Sum(a.first + v.second, a.second + 1); },
                            [](const Sum& a, const Sum& b) { return Sum(a.first + b.first, a.second + b.second); },
                            [](const Sum& a) { return a; });
    auto got = testing::collect<trib::WindowResult<std::string, Sum>>(windowed);
    auto late = testing::collect(windowed.lateRecords());
    ssc.start();
    BOOST_TEST_CONTEXT("windows " << shape.kind) {
      BOOST_REQUIRE_MESSAGE(ssc.awaitTerminationOrTimeout(std::chrono::seconds(60)),
                            "the job did not end with its input");
      Emitted emitted, wanted;
      for (auto& [t, rows] : got->get())
        for (auto& w : rows) emitted.emplace_back(w.key, w.start_ms, w.end_ms, w.value.first, w.value.second);
      for (auto& [w, acc] : want) wanted.emplace_back(std::get<0>(w), std::get<1>(w), std::get<2>(w), acc.first, acc.second);
      std::sort(emitted.begin(), emitted.end());
      BOOST_TEST(emitted.size() == wanted.size());
      BOOST_TEST((emitted == wanted));
      std::size_t late_records = 0;
      for (auto& [t, rows] : late->get()) late_records += rows.size();
      BOOST_TEST(late_records == 0u);
      // The run must leave windows for the end to fire: more than one
      // batch, and the last windows after the last watermark.
      BOOST_TEST(ssc.completedBatches().size() > 2u);
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_event_time_arguments_are_rejected) {
  trib::StreamingContext ssc(ms(10));
  auto s = ssc.queueStream(std::make_shared<trib::BatchQueue<Rec>>());
  auto ts = [](const Rec& r) { return r.second.first; };
  BOOST_CHECK_THROW(s.withTimestamps(ts, ms(-1)), std::invalid_argument);
  BOOST_CHECK_THROW(s.withTimestamps(ts, ms(0), ms(-5)), std::invalid_argument);
  BOOST_CHECK_THROW(trib::EventWindows::tumbling(ms(0)), std::invalid_argument);
  BOOST_CHECK_THROW(trib::EventWindows::sliding(ms(100), ms(200)), std::invalid_argument);
  BOOST_CHECK_THROW(trib::EventWindows::session(ms(-1)), std::invalid_argument);
  auto w = s.withTimestamps(ts, ms(0)).window(trib::EventWindows::tumbling(ms(100)));
  BOOST_CHECK_THROW(w.allowedLateness(ms(-1)), std::invalid_argument);
  try {
    trib::EventWindows::sliding(ms(100), ms(200));
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()).find("slide 200 ms") != std::string::npos, e.what());
  }
}
