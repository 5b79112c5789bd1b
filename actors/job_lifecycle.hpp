// The coordinator's phase and how its job stops: which batches may start,
// whether the next interval closes, and when a stopping job is done.
// Plain state, no CAF and no clock, so every path is unit-tested.
//
//   phase:      running ──checkpoint_started()──▶ checkpointing
//                  ▲                                    │
//                  └──────── checkpoint_written() ──────┘
//               (any) ──finish()──▶ finished   (once; every call after is refused)
//
//   stop:       none ──begin_stop()──▶ stopping ──final_interval_closed()──▶ closed
//               none ──tick() at the stop-after batch────────────────────────▶ closed
//               closed, phase running, nothing forming or in flight: drained()
//
// The two are apart because a graceful stop may begin during a checkpoint:
// the checkpoint completes, then the drain goes on. Batches start only while
// running (a checkpoint pauses them: its snapshots are the state after the
// batch it follows). The wait for min_workers before the first batch is
// worker membership's gate (actors/worker_membership.hpp), not a phase here.
#pragma once

#include <cstddef>
#include <cstdint>

namespace trib {

class JobLifecycle {
 public:
  enum class Phase { running, checkpointing, finished };
  enum class Stop { none, stopping, closed };

  // stop_after_batches > 0: the job ends after batches 0..n-1 (indexes count
  // from the job's first batch, across restarts).
  explicit JobLifecycle(int64_t stop_after_batches = 0) : stop_after_(stop_after_batches) {}

  // What the batch timer's tick does, given the index of the next interval.
  enum class Tick {
    close,       // close that interval, schedule the next tick
    last_passed, // the stop-after batch is closed: the job now drains (no tick)
    ignore,      // stopping or finished: no interval closes any more
  };
  Tick tick(int64_t next_index);
  // Will interval `index` still be closed by a tick (so input taken for it
  // now goes into a batch)? Not while stopping or finished, nor past the
  // stop-after batch.
  bool will_close(int64_t index) const { return !stopping() && !finished() && !past_last(index); }

  // A graceful stop: false if one already began or the job finished.
  // Receivers stop next; their last records close one final interval.
  bool begin_stop();
  // The last interval that takes input is closed (or none will be).
  void final_interval_closed() { stop_ = Stop::closed; }

  void checkpoint_started();
  void checkpoint_written();

  // New batches may start now (running, not paused by a checkpoint).
  bool batches_may_start() const { return phase_ == Phase::running; }

  // A stop is complete: the final interval closed, no checkpoint pending,
  // and no batch forming (`forming`) or in flight (`in_flight`).
  bool drained(std::size_t forming, std::size_t in_flight) const;

  // Ends the job: true the first time only (the caller stops everything).
  bool finish();

  Phase phase() const { return phase_; }
  Stop stop() const { return stop_; }
  bool finished() const { return phase_ == Phase::finished; }
  bool stopping() const { return stop_ != Stop::none; }
  // The job's state as the status page shows it: running, checkpointing, stopping.
  const char* describe() const;

 private:
  bool past_last(int64_t index) const { return stop_after_ > 0 && index >= stop_after_; }

  int64_t stop_after_;
  Phase phase_ = Phase::running;
  Stop stop_ = Stop::none;
};

}  // namespace trib
