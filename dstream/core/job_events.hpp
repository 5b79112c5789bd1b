// What happened to a running job besides batches (Spark's StreamingListener
// events, plus the cluster's): workers joining and lost, state partitions
// placed and moved, shuffle blocks made again, speculative copies,
// checkpoints, recovery. Tests and tools read these instead of log text;
// apps write them as JSON lines with --events FILE.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace trib {

struct JobEvent {
  enum class Kind {
    workers_ready,        // the min-workers wait ended: `workers` joined
    worker_joined,        // `worker` joined
    worker_refused,       // a peer asked to join and was refused (`reason`)
    worker_lost,          // `worker` lost (`reason`): `tasks` run again, `partitions` restored elsewhere
    partition_placed,     // state partition (`node`, `partition`) placed on `worker`
    partition_moved,      // ... moved from `from` to `worker`
    shuffle_blocks_lost,  // batch `batch_time`: `tasks` map tasks of `node` run again
    task_speculated,      // a copy of a slow task of `node` for batch `batch_time` runs on `worker`
    checkpoint_written,   // a checkpoint after batch `batch_time`
    recovered,            // resumed from the checkpoint of batch `batch_time`
  };

  Kind kind = Kind::worker_joined;
  int64_t wall_ms = 0;     // when it happened (set by JobMonitor::event)
  std::string worker;      // "worker-1", or "the coordinator" for placements here
  std::string from;        // partition_moved: where it was
  std::string reason;
  int32_t node = -1;
  std::string node_name;   // the operator, e.g. "updateStateByKey"
  int32_t partition = -1;
  int64_t batch_time = -1;
  int64_t tasks = -1;
  int64_t partitions = -1;
  int64_t workers = -1;
};

// Where the coordinator's parts report events (JobMonitor::event).
using EventSink = std::function<void(JobEvent)>;

const char* to_string(JobEvent::Kind kind);

// One line of JSON: {"event":"worker_lost","wall_ms":...,"worker":"worker-1",...};
// fields left at their defaults are omitted.
std::string to_json(const JobEvent& event);

}  // namespace trib
