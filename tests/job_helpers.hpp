// Helpers shared by the engine tests: collecting a stream's batches and
// running a job for a number of batches.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "dstream/streaming_context.hpp"

namespace testing {

// Everything one output saw: (batch time, records) in the order emitted.
template <class T>
class Collector {
 public:
  // Records are kept past their batch: views (Text) are copied out, into T.
  template <class R>
  void attach(const trib::DStream<R>& stream) {
    auto self = shared();
    stream.foreachRDD([self](const std::vector<R>& rows, int64_t t) {
      std::vector<T> copy(rows.begin(), rows.end());
      std::lock_guard<std::mutex> lock(self->mutex);
      self->batches.emplace_back(t, std::move(copy));
    });
  }

  std::vector<std::pair<int64_t, std::vector<T>>> get() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->batches;
  }

 private:
  struct State {
    std::mutex mutex;
    std::vector<std::pair<int64_t, std::vector<T>>> batches;
  };
  std::shared_ptr<State> shared() const { return state_; }
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

template <class T>
std::shared_ptr<Collector<trib::owned_t<T>>> collect(const trib::DStream<T>& stream) {
  auto c = std::make_shared<Collector<trib::owned_t<T>>>();
  c->attach(stream);
  return c;
}

// Polls `done` every 10 ms until it holds or `timeout` passes; returns done().
template <class Pred>
bool eventually(Pred done, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return done();
}

// Starts the job, waits until n batches completed, stops it.
inline void run_batches(trib::StreamingContext& ssc, std::size_t n) {
  ssc.start();
  bool done = ssc.awaitBatches(n, std::chrono::seconds(120));
  ssc.stop(false);
  if (!done) throw std::runtime_error("job did not complete the expected batches");
}

}  // namespace testing
