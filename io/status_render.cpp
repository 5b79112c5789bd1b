#include "io/status_render.hpp"

#include <cmath>

#include <fmt/format.h>

#include "dstream/core/json.hpp"

namespace trib {
namespace {

void batch_fields(JsonWriter& w, const BatchInfo& b) {
  w.field("batch_time_ms", b.batch_time_ms)
      .field("batch_index", b.batch_index)
      .field("input_records", b.input_records)
      .field("scheduling_delay_ms", b.scheduling_delay_ms)
      .field("processing_time_ms", b.processing_time_ms)
      .field("total_delay_ms", b.total_delay_ms);
}

void checkpoint_fields(JsonWriter& w, const CheckpointRecord& c) {
  w.field("batch_time_ms", c.batch_time_ms)
      .field("wall_ms", c.wall_ms)
      .field("duration_ms", c.duration_ms)
      .field("bytes", c.bytes);
}

// Records per second of the newest batch (Spark's input rate).
double input_rate(const JobStatus& s) {
  if (s.batches.empty() || s.batch_interval_ms <= 0) return 0;
  return static_cast<double>(s.batches.back().input_records) * 1000.0 / static_cast<double>(s.batch_interval_ms);
}

}  // namespace

std::string status_json(const JobStatus& s) {
  JsonWriter w;
  w.begin_object()
      .field("state", s.state)
      .field("error", s.error)
      .field("started_wall_ms", s.started_wall_ms)
      .field("wall_ms", s.wall_ms)
      .field("batch_interval_ms", s.batch_interval_ms)
      .field("batches_completed", s.batches_completed)
      .field("batches_in_flight", s.batches_in_flight)
      .field("received_records", s.received_records)
      .field("processed_records", s.processed_records)
      .field("input_rate", input_rate(s))
      .field("receivers", static_cast<int64_t>(s.receivers.size()))
      .field("workers", static_cast<int64_t>(s.workers.size()))
      .field("workers_lost", s.workers_lost)
      .field("checkpoints_written", s.checkpoints.written)
      .field("retained_batches", static_cast<int64_t>(s.batches.size()));
  w.key("last_batch");
  if (s.batches.empty()) {
    w.null();
  } else {
    w.begin_object();
    batch_fields(w, s.batches.back());
    w.end_object();
  }
  w.end_object();
  return w.take();
}

std::string batches_json(const JobStatus& s) {
  JsonWriter w;
  w.begin_array();
  for (auto& b : s.batches) {
    w.begin_object();
    batch_fields(w, b);
    w.end_object();
  }
  w.end_array();
  return w.take();
}

std::string receivers_json(const JobStatus& s) {
  JsonWriter w;
  w.begin_array();
  for (auto& r : s.receivers)
    w.begin_object()
        .field("stream", static_cast<int64_t>(r.stream))
        .field("name", r.name)
        .field("state", r.state)
        .field("rate", r.rate)
        .field("records", r.records)
        .field("errors", r.errors)
        .field("last_error", r.last_error)
        .field("last_error_wall_ms", r.last_error_wall_ms)
        .end_object();
  w.end_array();
  return w.take();
}

std::string workers_json(const JobStatus& s) {
  JsonWriter w;
  w.begin_array();
  for (auto& x : s.workers) {
    w.begin_object().field("label", x.label).field("node", x.node).field("state", x.state);
    w.key("heartbeat_age_ms");
    if (x.heartbeat_age_ms < 0)
      w.null();
    else
      w.value(x.heartbeat_age_ms);
    w.field("tasks_running", x.tasks_running)
        .field("tasks_completed", x.tasks_completed)
        .field("state_partitions", x.state_partitions)
        .field("lost_reason", x.lost_reason)
        .end_object();
  }
  w.end_array();
  return w.take();
}

std::string checkpoints_json(const JobStatus& s) {
  JsonWriter w;
  w.begin_object()
      .field("enabled", s.checkpoints.enabled)
      .field("dir", s.checkpoints.dir)
      .field("written", s.checkpoints.written);
  w.key("last");
  if (s.checkpoints.recent.empty()) {
    w.null();
  } else {
    w.begin_object();
    checkpoint_fields(w, s.checkpoints.recent.back());
    w.end_object();
  }
  w.key("recent").begin_array();
  for (auto& c : s.checkpoints.recent) {
    w.begin_object();
    checkpoint_fields(w, c);
    w.end_object();
  }
  w.end_array().end_object();
  return w.take();
}

std::string operators_json(const JobStatus& s) {
  JsonWriter w;
  w.begin_array();
  for (auto& op : s.operators) {
    w.begin_object().field("node", static_cast<int64_t>(op.node)).field("name", op.name).field("partitions", op.partitions);
    w.key("state_bytes");
    if (op.state_bytes < 0)
      w.null();
    else
      w.value(op.state_bytes);
    w.key("measured_batch_ms");
    if (op.measured_batch_ms < 0)
      w.null();
    else
      w.value(op.measured_batch_ms);
    w.end_object();
  }
  w.end_array();
  return w.take();
}

// ---- Prometheus text exposition format 0.0.4 ---------------------------------------------

namespace {

// A label value: backslash, double quote and line feed escaped.
std::string label_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

// A sample value: Go's float formatting is not required, any float the
// parser reads is; +Inf/-Inf/NaN are spelled as Prometheus does.
std::string number(double x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", x);
}

class Exposition {
 public:
  // One metric family: HELP and TYPE lines, then its samples.
  Exposition& family(const std::string& name, const char* type, const std::string& help) {
    out_ += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    return *this;
  }
  Exposition& sample(const std::string& name, double v, const std::string& labels = "") {
    out_ += name;
    if (!labels.empty()) out_ += "{" + labels + "}";
    out_ += " " + number(v) + "\n";
    return *this;
  }
  Exposition& gauge(const std::string& name, const std::string& help, double v) {
    return family(name, "gauge", help).sample(name, v);
  }
  Exposition& counter(const std::string& name, const std::string& help, double v) {
    return family(name, "counter", help).sample(name, v);
  }
  // Millisecond figures exported in seconds, Prometheus's base unit.
  Exposition& histogram(const std::string& name, const std::string& help, const DelayHistogram& h) {
    family(name, "histogram", help);
    int64_t cumulative = 0;
    for (std::size_t i = 0; i < DelayHistogram::kBuckets; ++i) {
      cumulative += h.counts[i];
      sample(name + "_bucket", static_cast<double>(cumulative),
             "le=\"" + number(DelayHistogram::kBoundsMs[i] / 1000.0) + "\"");
    }
    cumulative += h.counts[DelayHistogram::kBuckets];
    sample(name + "_bucket", static_cast<double>(cumulative), "le=\"+Inf\"");
    sample(name + "_sum", h.sum_ms / 1000.0);
    sample(name + "_count", static_cast<double>(h.count));
    return *this;
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::string metrics_text(const JobStatus& s) {
  Exposition e;
  e.family("tributary_job_state", "gauge", "1 for the job's current state");
  for (const char* st : {"starting", "running", "checkpointing", "stopping", "stopped", "failed"})
    e.sample("tributary_job_state", s.state == st ? 1 : 0, std::string("state=\"") + st + "\"");
  e.gauge("tributary_job_start_time_seconds", "When the job started, seconds since the epoch",
          s.started_wall_ms / 1000.0)
      .gauge("tributary_batch_interval_seconds", "The batch interval", s.batch_interval_ms / 1000.0)
      .counter("tributary_batches_completed_total", "Batches whose outputs were emitted",
               static_cast<double>(s.batches_completed))
      .gauge("tributary_batches_in_flight", "Batches formed and not yet completed",
             static_cast<double>(s.batches_in_flight))
      .counter("tributary_records_received_total", "Records accepted by the receivers",
               static_cast<double>(s.received_records))
      .counter("tributary_records_processed_total", "Input records of completed batches",
               static_cast<double>(s.processed_records))
      .gauge("tributary_input_rate_records_per_second", "Input records of the last batch per second of interval",
             input_rate(s));
  if (!s.batches.empty()) {
    const BatchInfo& b = s.batches.back();
    e.gauge("tributary_last_batch_time_seconds", "End of the last completed batch's interval, seconds since the epoch",
            b.batch_time_ms / 1000.0)
        .gauge("tributary_last_batch_input_records", "Input records of the last completed batch",
               static_cast<double>(b.input_records))
        .gauge("tributary_last_batch_scheduling_delay_seconds", "Scheduling delay of the last completed batch",
               b.scheduling_delay_ms / 1000.0)
        .gauge("tributary_last_batch_processing_seconds", "Processing time of the last completed batch",
               b.processing_time_ms / 1000.0)
        .gauge("tributary_last_batch_total_delay_seconds", "Total delay of the last completed batch",
               b.total_delay_ms / 1000.0);
  }
  e.histogram("tributary_batch_scheduling_delay_seconds",
              "From the end of a batch's interval to its first task", s.scheduling_delay)
      .histogram("tributary_batch_processing_seconds", "From a batch's first task to its emitted outputs",
                 s.processing_time)
      .histogram("tributary_batch_total_delay_seconds", "From the end of a batch's interval to its emitted outputs",
                 s.total_delay);

  auto receiver_labels = [](const ReceiverStatus& r) {
    return "stream=\"" + std::to_string(r.stream) + "\",name=\"" + label_value(r.name) + "\"";
  };
  e.family("tributary_receiver_up", "gauge", "1 while the receiver runs, 0 while it restarts or after it stopped");
  for (auto& r : s.receivers) e.sample("tributary_receiver_up", r.state == "running" ? 1 : 0, receiver_labels(r));
  e.family("tributary_receiver_records_total", "counter", "Records the receiver accepted");
  for (auto& r : s.receivers) e.sample("tributary_receiver_records_total", static_cast<double>(r.records), receiver_labels(r));
  e.family("tributary_receiver_rate_records_per_second", "gauge", "Records the receiver delivered in the last interval, per second");
  for (auto& r : s.receivers) e.sample("tributary_receiver_rate_records_per_second", r.rate, receiver_labels(r));
  e.family("tributary_receiver_errors_total", "counter", "Times the receiver failed and was restarted");
  for (auto& r : s.receivers) e.sample("tributary_receiver_errors_total", static_cast<double>(r.errors), receiver_labels(r));

  std::size_t live = 0;
  for (auto& w : s.workers) live += w.state != "lost";
  e.gauge("tributary_workers", "Nodes running tasks: this process and the workers that joined",
          static_cast<double>(live))
      .counter("tributary_workers_lost_total", "Workers given up on", static_cast<double>(s.workers_lost));
  auto worker_labels = [](const WorkerStatus& w) { return "worker=\"" + label_value(w.label) + "\""; };
  e.family("tributary_worker_heartbeat_age_seconds", "gauge", "Since the worker last answered a heartbeat");
  for (auto& w : s.workers)
    if (w.state != "lost" && w.heartbeat_age_ms >= 0)
      e.sample("tributary_worker_heartbeat_age_seconds", w.heartbeat_age_ms / 1000.0, worker_labels(w));
  e.family("tributary_worker_tasks_running", "gauge", "Tasks sent to the node and not yet answered");
  for (auto& w : s.workers)
    if (w.state != "lost") e.sample("tributary_worker_tasks_running", static_cast<double>(w.tasks_running), worker_labels(w));
  e.family("tributary_worker_tasks_completed_total", "counter", "Task results received from the node");
  for (auto& w : s.workers)
    if (w.state != "lost")
      e.sample("tributary_worker_tasks_completed_total", static_cast<double>(w.tasks_completed), worker_labels(w));
  e.family("tributary_worker_state_partitions", "gauge", "State partitions placed on the node");
  for (auto& w : s.workers)
    if (w.state != "lost")
      e.sample("tributary_worker_state_partitions", static_cast<double>(w.state_partitions), worker_labels(w));

  e.counter("tributary_checkpoints_written_total", "Checkpoints written by this process",
            static_cast<double>(s.checkpoints.written));
  if (!s.checkpoints.recent.empty()) {
    const CheckpointRecord& c = s.checkpoints.recent.back();
    e.gauge("tributary_checkpoint_last_time_seconds", "When the last checkpoint was written, seconds since the epoch",
            c.wall_ms / 1000.0)
        .gauge("tributary_checkpoint_last_duration_seconds", "How long the last checkpoint paused the job",
               c.duration_ms / 1000.0)
        .gauge("tributary_checkpoint_last_bytes", "Bytes of the last checkpoint and its state files",
               static_cast<double>(c.bytes));
  }
  auto op_labels = [](const OperatorStatus& op) {
    return "node=\"" + std::to_string(op.node) + "\",operator=\"" + label_value(op.name) + "\"";
  };
  e.family("tributary_state_partitions", "gauge", "State partitions placed, per stateful operator");
  for (auto& op : s.operators) e.sample("tributary_state_partitions", static_cast<double>(op.partitions), op_labels(op));
  e.family("tributary_state_bytes", "gauge", "Serialized state per stateful operator, at the last checkpoint");
  for (auto& op : s.operators)
    if (op.state_bytes >= 0) e.sample("tributary_state_bytes", static_cast<double>(op.state_bytes), op_labels(op));
  return e.take();
}

}  // namespace trib
