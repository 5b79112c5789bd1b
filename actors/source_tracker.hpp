// The source tracker (Spark's ReceiverTracker + ReceivedBlockTracker +
// RateController): what each closed interval holds, from every source.
//
// When an interval closes, sources without a receiver whose poll is quick
// (queueStream, the direct generator) are polled at once; receivers, and
// sources whose poll may block (files, Redis: polled by a source poller on a
// thread of its own), are asked and answer later. Once every source delivered, the batch is formed. After a
// batch completes (or is checkpointed) the sources are told how far their
// input is durably done, and with backpressure the receivers get a new rate.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "actors/batch_executor.hpp"
#include "actors/messages.hpp"
#include "dstream/core/graph.hpp"
#include "actors/rate_estimator.hpp"
#include "recovery/batch_positions_log.hpp"
#include "recovery/checkpoint.hpp"

namespace trib {

class SourceTracker {
 public:
  // `sources`: the source nodes the job needs; `with_receiver`: those among
  // them read by a receiver actor; `polled_elsewhere`: receiver-less ones
  // polled off the coordinator's thread (SourceNode::blocking()).
  SourceTracker(const Graph& graph, std::vector<int> sources, std::set<int> with_receiver,
                std::set<int> polled_elsewhere, bool backpressure);

  // Interval k, ending at batch time t, closed at `now`. Polls the quick
  // receiver-less sources; returns the sources whose block for t must be
  // asked for (receivers to flush, sources polled elsewhere to poll).
  std::vector<int> interval_closed(int64_t t, int64_t k, steady::time_point now);

  // A receiver's (or a source poller's) block for batch t.
  void delivered(int64_t t, ReceivedBlock block);

  // Batch t, if every source delivered (taken out of the tracker).
  std::optional<FormedBatch> take_formed(int64_t t);

  // Batches closed but not yet formed (a receiver has not answered).
  std::size_t forming() const { return forming_.size(); }

  // Where each source's next batch starts now (for the first checkpoint:
  // called before the first interval closes, while no source is mid-poll).
  std::map<int32_t, std::string> positions() const;

  // After a restart: sources without a receiver go back to `positions`
  // (receivers replay their own write-ahead log).
  void seek(const std::map<int32_t, std::string>& positions);

  // Input up to `positions` is durably done: quick sources without a
  // receiver release it upstream now. Returns what the others must be told:
  // the receivers' write-ahead logs may be truncated at a log position, the
  // sources polled elsewhere may release input up to a position.
  struct Release {
    std::vector<std::pair<int, int64_t>> truncate;     // (source, log position)
    std::vector<std::pair<int, std::string>> commit;  // (source, position)
  };
  Release done_up_to(const std::map<int32_t, std::string>& positions);

  // Checkpoints on (`dir`): every batch of the sources that replay exact
  // ranges (SourceNode::exact_replay) is logged durably in `dir` when it
  // forms, before any of its tasks run (recovery/batch_positions_log.hpp).
  // `recovered`: the checkpoint the job resumes from; the logged batches
  // after it are formed again from exactly their logged ranges. Null: a new
  // job, the old log is discarded. Throws if the log is corrupt.
  void log_batches(const std::string& dir, const Checkpoint* recovered);

  // Where source `id` must end batch t (a logged batch formed again), or
  // empty: poll as usual. For the sources polled elsewhere.
  std::string replay_end(int64_t t, int id) const;

  // Batches at or before `time` are needed by no kept checkpoint: their
  // log entries may go (none: no checkpoint is kept).
  void batches_done_through(std::optional<int64_t> time);

  // Backpressure: the per-receiver rate the completed batch shows the job
  // can sustain (Spark's PID estimator); none while it has no estimate.
  std::optional<double> receiver_rate(const BatchInfo& info);

 private:
  struct Forming {
    FormedBatch batch;
    int pending = 0;
  };
  SourceNode& source(int id) const;

  const Graph& graph_;
  std::vector<int> sources_;
  std::set<int> with_receiver_;
  std::set<int> polled_elsewhere_;
  std::map<int64_t, Forming> forming_;
  std::optional<PidRateEstimator> estimator_;
  // The batch positions log (checkpoints on and a source replays ranges).
  std::unique_ptr<BatchPositionsLog> log_;
  std::set<int> logged_sources_;
  std::map<int, std::string> last_end_;            // per logged source: end of the last batch formed
  std::map<int64_t, BatchPositions> replays_;      // logged batches to form again, by time
  int64_t droppable_ = 0;                          // entries in the log no checkpoint needs
};

}  // namespace trib
