// What a running job looks like from outside, as plain data: recent batches,
// receivers, workers, checkpoints and state per stateful operator (Spark's
// Streaming tab, Flink's dashboard). The coordinator publishes it into a
// StatusBoard; the web UI, /metrics and the progress line read copies, so
// nothing outside the coordinator's thread touches its parts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "dstream/core/batch_info.hpp"

namespace trib {

struct ReceiverStatus {
  int32_t stream = -1;       // the source node
  std::string name;          // e.g. "socket localhost:9999"
  std::string state;         // "running", "restarting" (after an error), "stopped"
  double rate = 0;           // records/s in the last closed interval
  int64_t records = 0;       // accepted since the job started
  int64_t errors = 0;        // failures so far (each restarts the receiver)
  std::string last_error;    // empty: none
  int64_t last_error_wall_ms = 0;
};

struct WorkerStatus {
  std::string label;          // "coordinator" (this process) or "worker-<n>"
  std::string node;           // CAF node id
  std::string state;          // "local", "alive", "slow" (a task copied elsewhere), "lost"
  int64_t heartbeat_age_ms = -1;  // since its last answered ping; -1: not pinged (local)
  int64_t tasks_running = 0;      // stateless tasks out on it (workers only)
  int64_t tasks_completed = 0;    // task results received from it
  int64_t state_partitions = 0;   // state partitions placed on it
  std::string lost_reason;        // state "lost": why
};

struct CheckpointRecord {
  int64_t batch_time_ms = 0;  // the batch it follows (-1: before the first)
  int64_t wall_ms = 0;        // when it was written
  double duration_ms = 0;     // from the pause to the written file
  int64_t bytes = 0;          // the checkpoint file and the state files it names
};

struct CheckpointStatus {
  bool enabled = false;
  std::string dir;
  int64_t written = 0;                  // since this process started
  std::vector<CheckpointRecord> recent;  // oldest first, at most CheckpointStatus::kRecent
  static constexpr std::size_t kRecent = 20;
};

// State of one stateful operator (updateStateByKey, mapWithState,
// incremental windows, actor operators).
struct OperatorStatus {
  int32_t node = -1;
  std::string name;
  int64_t partitions = 0;        // placed so far
  int64_t state_bytes = -1;      // serialized, at the last checkpoint; -1: none taken yet
  int64_t measured_batch_ms = -1;  // that checkpoint's batch
};

// Cumulative distribution of one batch figure (Prometheus histogram).
struct DelayHistogram {
  static constexpr double kBoundsMs[] = {1,   2.5,  5,    10,    25,    50,    100,
                                         250, 500,  1000, 2500, 5000, 10000, 30000};
  static constexpr std::size_t kBuckets = sizeof(kBoundsMs) / sizeof(kBoundsMs[0]);
  int64_t counts[kBuckets + 1] = {};  // per bucket (not cumulative); the last is +Inf
  double sum_ms = 0;
  int64_t count = 0;

  void add(double ms) {
    std::size_t i = 0;
    while (i < kBuckets && ms > kBoundsMs[i]) ++i;
    ++counts[i];
    sum_ms += ms;
    ++count;
  }
};

struct JobStatus {
  std::string state = "starting";  // "running", "checkpointing", "stopping", "stopped", "failed"
  std::string error;               // state "failed": why
  int64_t started_wall_ms = 0;
  int64_t wall_ms = 0;             // when this snapshot was published
  int64_t batch_interval_ms = 0;
  int64_t batches_completed = 0;
  int64_t batches_in_flight = 0;   // formed, not yet completed
  int64_t received_records = 0;    // accepted by receivers
  int64_t processed_records = 0;   // input of completed batches
  int64_t workers_lost = 0;
  std::deque<BatchInfo> batches;   // the most recent, oldest first
  DelayHistogram scheduling_delay, processing_time, total_delay;
  std::vector<ReceiverStatus> receivers;
  std::vector<WorkerStatus> workers;
  CheckpointStatus checkpoints;
  std::vector<OperatorStatus> operators;
};

// Where the coordinator publishes the job's status and readers copy it.
// Every method takes the one mutex briefly; readers never see a half update.
class StatusBoard {
 public:
  explicit StatusBoard(std::size_t retained_batches = 1000) : retained_(retained_batches) {}

  // A batch completed (the coordinator, once per batch); `received`: the
  // receivers' record count now, so it never trails the processed count.
  void batch_completed(const BatchInfo& info, int64_t received) {
    std::lock_guard<std::mutex> lock(mutex_);
    s_.received_records = received;
    s_.batches.push_back(info);
    while (s_.batches.size() > retained_) s_.batches.pop_front();
    ++s_.batches_completed;
    s_.processed_records += info.input_records;
    s_.scheduling_delay.add(info.scheduling_delay_ms);
    s_.processing_time.add(info.processing_time_ms);
    s_.total_delay.add(info.total_delay_ms);
  }

  // Replaces any other part: f(JobStatus&) under the lock.
  template <class F>
  void update(F&& f) {
    std::lock_guard<std::mutex> lock(mutex_);
    f(s_);
  }

  JobStatus snapshot() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return s_;
  }

  std::size_t retained() const { return retained_; }

 private:
  mutable std::mutex mutex_;
  std::size_t retained_;
  JobStatus s_;
};

}  // namespace trib
