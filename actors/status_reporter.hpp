// The coordinator's part that keeps the job's status (dstream/core/job_status.hpp)
// up to date on a StatusBoard: it counts what passes through the coordinator
// (tasks sent and answered per node, receivers' blocks, checkpoints, lost
// workers) and, on the coordinator's status tick, publishes receivers,
// workers, checkpoints and state per operator, and logs the progress line.
// Runs on the coordinator's thread; readers only ever see the board.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "actors/progress_meter.hpp"
#include "actors/receiver_actor.hpp"
#include "actors/state_placement.hpp"
#include "actors/task_dispatcher.hpp"
#include "actors/worker_pool.hpp"
#include "dstream/core/graph.hpp"
#include "dstream/core/job_status.hpp"

namespace trib {

class StatusReporter {
 public:
  using clock = std::chrono::steady_clock;

  // progress_ms: how often publish() logs the progress line (0: never).
  StatusReporter(std::shared_ptr<StatusBoard> board, const Graph& graph, std::string checkpoint_dir,
                 int64_t progress_ms, int64_t wall_now, clock::time_point now);

  StatusBoard& board() { return *board_; }

  // ---- counted as things pass the coordinator -----------------------------
  void receiver_started(int32_t stream, std::shared_ptr<ReceiverHealth> health);
  void block_delivered(int32_t stream, int64_t records, int64_t interval_ms);
  void task_sent(const caf::node_id& node) { ++tasks_[node].sent; }
  void task_answered(const caf::node_id& node) { ++tasks_[node].answered; }
  void worker_lost(const std::string& label, const caf::node_id& node, const std::string& why);
  void checkpoint_started(clock::time_point now) { checkpoint_started_ = now; }
  // `snapshots`: every host's answer for the checkpoint just written.
  void checkpoint_written(int64_t batch_time_ms, int64_t bytes, const std::vector<HostSnapshot>& snapshots,
                          int64_t wall_now, clock::time_point now);

  // ---- published ----------------------------------------------------------
  struct Parts {
    std::string state;  // "running", "checkpointing", "stopping"
    int64_t batches_in_flight = 0;
    int64_t received_records = 0;
    caf::actor local_host;
    WorkerPool* workers = nullptr;
    const TaskDispatcher* dispatcher = nullptr;
    const StatePlacement* placement = nullptr;
  };
  // Refreshes the board from the parts; logs the progress line when due.
  void publish(const Parts& parts, int64_t wall_now, clock::time_point now);

  // The job ended (`error` empty: stopped cleanly).
  void finished(const std::string& error, int64_t wall_now);

 private:
  struct TaskCounts {
    int64_t sent = 0, answered = 0;
  };
  struct Receiver {
    std::shared_ptr<ReceiverHealth> health;
    double rate = 0;
  };

  std::shared_ptr<StatusBoard> board_;
  const Graph& graph_;
  int64_t progress_ms_;
  clock::time_point last_progress_;
  ProgressMeter meter_;
  std::map<caf::node_id, TaskCounts> tasks_;
  std::map<int32_t, Receiver> receivers_;
  std::deque<WorkerStatus> lost_;  // the most recent, at most kLost
  static constexpr std::size_t kLost = 16;
  clock::time_point checkpoint_started_;
  std::map<int32_t, int64_t> state_bytes_;  // per node, at the last checkpoint
  int64_t state_measured_ms_ = -1;
};

}  // namespace trib
