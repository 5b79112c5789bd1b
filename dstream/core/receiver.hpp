// The receiver API: how records get into Tributary.
//
// A receiver pulls records from the outside world on a thread of its own and
// hands them to the engine with ctx.store(). Once store() returns, the
// records are accepted: they belong to the next batch that closes. Records
// are lines of text (Text views); a receiver that reads bytes hands over
// whole blocks (io/line_splitter.hpp cuts them), so no line is copied. The
// engine runs each receiver inside a receiver actor, which owns the buffered
// records and cuts them into partitions when the batch interval closes.
//
// A receiver that throws is logged and restarted after a backoff, as Spark
// restarts a failed receiver (unless it called ctx.end_of_input() first);
// run() returns when ctx.stopping() is true.
//
// A bounded source (a server that closes when it has sent everything, with
// socket://...?end-at-close) calls ctx.end_of_input() before it returns: it
// is not restarted, and once every receiver of a job has ended, the job
// stops gracefully, as a Flink job ends with its bounded sources: the open
// interval closes at once (its batch keeps its time), everything accepted
// is processed, and awaitTermination() returns.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dstream/core/text_block.hpp"

namespace trib {

class ReceiverContext {
 public:
  virtual ~ReceiverContext() = default;
  // Hands a block of lines to the engine (the block's pins keep its bytes).
  virtual void store(TextBlock block) = 0;
  // The same for lines held as strings. Call with chunks, not single lines.
  void store(std::vector<std::string> records) { store(TextBlock::own(std::move(records))); }
  // True once the job is stopping; run() should return soon after.
  virtual bool stopping() const = 0;
  // Sleeps for `d` unless the job stops first; returns !stopping().
  virtual bool wait_for(std::chrono::milliseconds d) = 0;
  // The source has nothing more: run() returns next and is not restarted.
  virtual void end_of_input() = 0;
};

class Receiver {
 public:
  virtual ~Receiver() = default;
  // For logs: "socket localhost:9999".
  virtual std::string describe() const = 0;
  virtual void run(ReceiverContext& ctx) = 0;
};

using ReceiverFactory = std::function<std::unique_ptr<Receiver>()>;

}  // namespace trib
