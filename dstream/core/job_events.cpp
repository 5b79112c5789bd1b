#include "dstream/core/job_events.hpp"

#include "dstream/core/json.hpp"

namespace trib {

const char* to_string(JobEvent::Kind kind) {
  switch (kind) {
    case JobEvent::Kind::workers_ready: return "workers_ready";
    case JobEvent::Kind::worker_joined: return "worker_joined";
    case JobEvent::Kind::worker_refused: return "worker_refused";
    case JobEvent::Kind::worker_lost: return "worker_lost";
    case JobEvent::Kind::partition_placed: return "partition_placed";
    case JobEvent::Kind::partition_moved: return "partition_moved";
    case JobEvent::Kind::shuffle_blocks_lost: return "shuffle_blocks_lost";
    case JobEvent::Kind::task_speculated: return "task_speculated";
    case JobEvent::Kind::checkpoint_written: return "checkpoint_written";
    case JobEvent::Kind::recovered: return "recovered";
  }
  return "unknown";
}

namespace {

void add_string(std::string& out, const char* name, const std::string& value) {
  if (value.empty()) return;
  out += ",\"";
  out += name;
  out += "\":";
  append_json_string(out, value);
}

void add_number(std::string& out, const char* name, int64_t value) {
  if (value < 0) return;
  out += ",\"";
  out += name;
  out += "\":";
  out += std::to_string(value);
}

}  // namespace

std::string to_json(const JobEvent& e) {
  std::string out = "{\"event\":\"";
  out += to_string(e.kind);
  out += '"';
  add_number(out, "wall_ms", e.wall_ms);
  add_string(out, "worker", e.worker);
  add_string(out, "from", e.from);
  add_string(out, "reason", e.reason);
  add_number(out, "node", e.node);
  add_string(out, "node_name", e.node_name);
  add_number(out, "partition", e.partition);
  add_number(out, "batch_time", e.batch_time);
  add_number(out, "tasks", e.tasks);
  add_number(out, "partitions", e.partitions);
  add_number(out, "workers", e.workers);
  out += '}';
  return out;
}

}  // namespace trib
