// The receiver actor: one per input stream. It runs the stream's Receiver
// on a thread of its own (a detached actor, so blocking I/O never stalls the
// scheduler), buffers what the receiver stores, and on `flush` hands the
// coordinator everything accepted since the previous flush.
//
// Protocol:
//   flush_atom          -> ReceivedBlock   (cuts the block for a batch)
//   slot_atom           -> ReceivedBlock   (map-ahead: one partition, the
//                                           lines since the last slot or
//                                           flush; the flush then hands over
//                                           the lines after the last slot)
//   stop_atom           -> done_atom       (after the reader thread ended and
//                                           everything it stored is buffered)
//   input_end_atom      -> input_end_atom  (once the receiver's input ended,
//                                           all of it buffered; a source
//                                           that does not end never answers)
//   (truncate_atom, int64_t position)      (a checkpoint covers the log before it)
//   (rate_atom, double records_per_s)      (backpressure: the new ingest rate,
//                                           capped by ReceiverOptions::max_rate)
//
// With a write-ahead log, every chunk is logged before it is buffered, and
// at start the records from `replay_from` on are buffered again: records
// accepted before a crash go into the first batch after the restart.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "dstream/core/job_monitor.hpp"
#include "dstream/core/receiver.hpp"

namespace trib {

// How a receiver is doing, for the job's status (dstream/core/job_status.hpp):
// written by its actor and reader thread, read by the coordinator.
struct ReceiverHealth {
  enum State { running = 0, restarting = 1, stopped = 2 };
  std::atomic<int> state{running};
  std::atomic<int64_t> records{0};
  std::atomic<int64_t> errors{0};
  mutable std::mutex mutex;  // guards the strings
  std::string name;          // Receiver::describe()
  std::string last_error;
  int64_t last_error_wall_ms = 0;
};

// A flag set once that threads can wait for: a receiver's stop request, or
// the gate a new checkpointed job's receivers wait behind until its first
// checkpoint is durable (records accepted before it would be lost to a
// crash, as the restart finds no checkpoint and starts a new job).
class OneShotSignal {
 public:
  void set() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      set_ = true;
    }
    changed_.notify_all();
  }
  bool is_set() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return set_;
  }
  // Waits at most `d`; true once set.
  bool wait_for(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, d, [&] { return set_; });
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool set_ = false;
};

struct ReceiverOptions {
  std::string log_dir;      // write-ahead log directory; empty: no log
  bool resume = false;      // false: a new job; an old log in log_dir is discarded
  int64_t replay_from = 0;  // first record not in a checkpointed batch
  double max_rate = 0;      // records/s this receiver may store; 0: unlimited
  // The job's batch interval: lines of the i-th n-th of an interval go to
  // its i-th partition (dstream/core/text_block.hpp, LineChunks).
  std::chrono::milliseconds batch_interval{0};
  // Map-ahead (actors/batch_executor.hpp): the coordinator cuts each
  // interval into partitions itself (slot_atom), so lines are not sorted
  // into time slots here and a flush hands over one partition.
  bool slots_on_request = false;
  // Replay past corrupt log entries (getOrCreate reported them) rather than fail.
  bool accept_wal_loss = false;
  std::shared_ptr<ReceiverHealth> health;  // optional
  std::shared_ptr<OneShotSignal> start_gate;  // optional: the reader starts once it is set
};

// The protocol above as a typed handle, plus what the receiver's own reader
// thread sends it (its records, and done_atom once it ended, true when its
// input ended). In-process only: the coordinator spawns it.
using receiver_actor = caf::typed_actor<caf::replies_to<flush_atom>::with<ReceivedBlock>,
                                        caf::replies_to<slot_atom>::with<ReceivedBlock>,
                                        caf::replies_to<stop_atom>::with<done_atom>,
                                        caf::reacts_to<truncate_atom, int64_t>,
                                        caf::reacts_to<rate_atom, double>,
                                        caf::replies_to<input_end_atom>::with<input_end_atom>,
                                        caf::reacts_to<RecordChunk>,
                                        caf::reacts_to<done_atom, bool>>;

receiver_actor spawn_receiver(caf::actor_system& sys, int source_node,
                          ReceiverFactory factory, int partitions,
                          std::shared_ptr<JobMonitor> monitor, ReceiverOptions options = {});

}  // namespace trib
