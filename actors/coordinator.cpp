#include "actors/coordinator.hpp"

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include <spdlog/spdlog.h>

#include "actors/actor_operator.hpp"
#include "actors/messages.hpp"
#include "actors/partition_host.hpp"
#include "actors/receiver_actor.hpp"
#include "actors/sink_actor.hpp"
#include "actors/worker_pool.hpp"
#include "dstream/nodes.hpp"
#include "dstream/rate_estimator.hpp"
#include "recovery/fault_injection.hpp"
#include "recovery/state_snapshot.hpp"

namespace trib {
namespace {

using steady = std::chrono::steady_clock;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double ms_between(steady::time_point a, steady::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// What one map task produced: its outputs here, or, for a shuffle map task
// run on a worker, its buckets kept on that worker for reduce tasks to fetch.
struct MapOutput {
  bool done = false;
  std::vector<Partition> outputs;
  caf::actor host;  // set: the outputs stayed there
};

// One node's progress within one batch.
struct NodeRun {
  enum Status { waiting, mapping, reducing, done };
  Status status = waiting;
  bool runs = false;
  int pending = 0;  // tasks still out
  std::vector<std::vector<MapOutput>> map_out;  // [edge][map task]
  // Reducing: map tasks running again because their worker (and the
  // buckets it kept) was lost; reduce tasks still missing are sent again
  // once they are done, as attempt shuffle_attempt.
  int remaps = 0;
  int32_t shuffle_attempt = 0;
  Dataset reduce_out;
  Dataset result;  // the node's dataset, when it produces one
};

struct BatchRun {
  int64_t time = 0;
  int64_t index = 0;  // k: time = zero + (k + 1) * interval
  int64_t records = 0;
  int sources_pending = 0;
  bool started = false;
  bool computed = false;  // every node of the batch finished
  bool emitted = false;   // the sink ran the batch's outputs
  steady::time_point interval_end;  // when the interval was closed
  steady::time_point started_at;
  std::map<int, Dataset> source_data;
  std::map<int32_t, std::string> source_positions;  // after this batch's poll
  std::vector<NodeRun> nodes;
};

// (batch time, node, phase, edge, index): a task's identity.
using TaskKey = std::tuple<int64_t, int32_t, int32_t, int32_t, int32_t>;
using PartitionKey = std::pair<int32_t, int32_t>;  // (node, partition)

// A stateless task sent to worker nodes, kept until its result arrives so
// it can run again if they are lost (or a copy elsewhere if slow).
struct InFlight {
  TaskSpec spec;
  steady::time_point sent;
  std::vector<caf::actor_addr> hosts;  // the workers running it
  bool speculated = false;
};

// Where a state partition (stateful node or actor operator) lives.
struct Placement {
  caf::actor host;
  bool remote = false;
  std::string label;
  int32_t attempt = 0;  // bumped each time the partition is placed anew
  // Its newest task, while out: a worker that sits on it too long is given up on.
  std::optional<steady::time_point> task_sent;
  int64_t task_batch = 0;
};

struct CoordinatorState {
  CoordinatorConfig cfg;
  std::map<int64_t, BatchRun> batches;  // not yet emitted, by time
  std::deque<int64_t> ready;            // formed, waiting for a free slot
  int running = 0;
  std::map<int, caf::actor> receivers;  // by source node id
  caf::actor sink;
  caf::actor local_host;  // this process's partition host
  std::vector<std::deque<int64_t>> ordered_turns;  // per node: batch times, in order
  std::vector<bool> needed;                        // feeds an output
  int64_t zero_time = 0;
  int64_t next_index = 0;
  bool stopping = false;
  bool final_interval_closed = false;
  std::unique_ptr<CheckpointStore> checkpoints;
  bool checkpointing = false;  // batches wait while a checkpoint is taken
  bool finished = false;
  std::set<int> stateless_operators;  // actor operators that answer no snapshot
  std::optional<PidRateEstimator> estimator;  // with backpressure on
  // ---- worker nodes (--listen) ----
  WorkerPool workers;
  std::map<TaskKey, InFlight> in_flight;
  TaskTimes task_times;  // of remote tasks, for speculation
  bool checks_scheduled = false;
  bool awaiting_workers = false;  // see waiting_for_workers()
  steady::time_point workers_deadline;
  // ---- state partitions ----
  std::map<PartitionKey, Placement> placements;
  // Tasks of partitions on workers since the last checkpoint: replayed on
  // top of the checkpointed state when their worker is lost.
  std::map<PartitionKey, std::vector<TaskSpec>> replay_log;
  // The last checkpoint's manifest: which state file holds each partition.
  std::map<PartitionKey, std::string> state_files;
  // State read from the recovered checkpoint, for partitions not placed yet.
  std::map<PartitionKey, std::string> pending_restore;
  // ---- checkpoint being taken ----
  int checkpoint_round = 0;  // replies of an abandoned round are ignored
  std::function<void()> retake_checkpoint;  // while snapshots are collected
};

using coordinator_actor = caf::stateful_actor<CoordinatorState>;

class Coordinator {
 public:
  explicit Coordinator(coordinator_actor* self) : self_(self), st_(self->state) {}

  const Graph& graph() const { return *st_.cfg.graph; }
  int64_t interval() const { return graph().batch_interval_ms; }

  void start() {
    auto& g = graph();
    st_.needed.assign(g.nodes.size(), false);
    for (auto id : g.outputs) mark_needed(id);
    st_.ordered_turns.resize(g.nodes.size());
    caf::actor me = caf::actor_cast<caf::actor>(self_);
    st_.sink = spawn_sink(self_->system(), st_.cfg.graph, me);
    st_.local_host = spawn_partition_host(self_->system(), st_.cfg.graph, me);
    for (auto id : g.sources) {
      auto* node = dynamic_cast<ReceiverSourceNode*>(g.nodes[id].get());
      if (!st_.needed[id] || !node) continue;
      // With checkpoints, receivers log what they accept (write-ahead log)
      // and replay what no checkpointed batch covers.
      ReceiverOptions opts;
      opts.max_rate = st_.cfg.max_rate_per_receiver;
      if (!st_.cfg.checkpoint_dir.empty()) {
        opts.log_dir = st_.cfg.checkpoint_dir;
        opts.resume = st_.cfg.recovered.has_value();
        if (opts.resume) {
          auto& positions = st_.cfg.recovered->source_positions;
          auto pos = positions.find(id);
          if (pos != positions.end() && !pos->second.empty()) opts.replay_from = std::stoll(pos->second);
        }
      }
      auto r = spawn_receiver(self_->system(), id, node->factory, st_.cfg.receiver_partitions,
                              st_.cfg.monitor, opts);
      self_->monitor(r);
      st_.receivers[id] = r;
    }
    // Batch times are multiples of the interval; the first interval closes
    // at least one full interval after the start.
    st_.zero_time = (wall_ms() + interval() - 1) / interval() * interval();
    if (!st_.cfg.checkpoint_dir.empty())
      st_.checkpoints = std::make_unique<CheckpointStore>(st_.cfg.checkpoint_dir);
    if (st_.cfg.backpressure) st_.estimator.emplace(interval());
    if (st_.cfg.min_workers > 0) {
      st_.awaiting_workers = true;
      st_.workers_deadline = steady::now() + std::chrono::milliseconds(st_.cfg.min_workers_wait_ms);
      st_.checks_scheduled = true;
      schedule_check();
      spdlog::info("waiting for {} workers (at most {} ms) before the first batch", st_.cfg.min_workers,
                   st_.cfg.min_workers_wait_ms);
    }
    if (st_.cfg.recovered)
      restore(*st_.cfg.recovered);
    else if (st_.checkpoints)
      // Fixes the job's time origin and source positions before the first
      // batch, so a crash at any moment resumes this job, never a new one.
      take_checkpoint(-1, st_.zero_time, current_source_positions());
    spdlog::info("job started: {} nodes, {} outputs, {} receivers, batch interval {} ms",
                 g.nodes.size(), g.outputs.size(), st_.receivers.size(), interval());
    schedule_tick();
  }

  // ---- closing intervals ----------------------------------------------------

  void schedule_tick() {
    int64_t next = st_.zero_time + (st_.next_index + 1) * interval();
    int64_t delay = std::max<int64_t>(0, next - wall_ms());
    self_->delayed_send(self_, std::chrono::milliseconds(delay), tick_atom::value);
  }

  void on_tick() {
    if (st_.stopping) return;
    close_interval();
    schedule_tick();
  }

  void close_interval() {
    crash_point("interval-close");
    int64_t k = st_.next_index++;
    int64_t t = st_.zero_time + (k + 1) * interval();
    BatchRun& run = st_.batches[t];
    run.time = t;
    run.index = k;
    run.interval_end = steady::now();
    run.nodes.resize(graph().nodes.size());
    for (auto id : graph().sources) {
      if (!st_.needed[id]) continue;
      auto& src = static_cast<SourceNode&>(*graph().nodes[id]);
      if (!src.has_receiver()) {
        Dataset d;
        src.poll(t, d);
        run.source_positions[id] = src.position();
        for (auto& p : d) run.records += static_cast<int64_t>(p.size());
        run.source_data[id] = std::move(d);
        continue;
      }
      ++run.sources_pending;
      self_->request(st_.receivers.at(id), caf::infinite, flush_atom::value)
          .then(
              [this, t](ReceivedBlock& block) {
                BatchRun& r = st_.batches.at(t);
                r.records += block.records;
                if (!block.position.empty()) r.source_positions[block.source_node] = block.position;
                r.source_data[block.source_node] = std::move(block.partitions);
                if (--r.sources_pending == 0) formed(r);
              },
              [this, t, id](caf::error& err) {
                fail("receiver of stream " + std::to_string(id) +
                     " did not deliver batch " + std::to_string(t) + ": " +
                     self_->system().render(err));
              });
    }
    if (run.sources_pending == 0) formed(run);
  }

  // All sources delivered: the batch exists. Batches form in time order.
  void formed(BatchRun& run) {
    ExpectBatch expect{run.time, {}};
    for (auto id : graph().outputs)
      if (graph().produces_at(*graph().nodes[id], run.index)) expect.outputs.push_back(id);
    self_->send(st_.sink, std::move(expect));
    for (auto& n : graph().nodes)
      if (n->ordered && st_.needed[n->id] && graph().runs_at(*n, run.index))
        st_.ordered_turns[n->id].push_back(run.time);
    st_.ready.push_back(run.time);
    start_ready_batches();
  }

  void start_ready_batches() {
    if (st_.checkpointing || waiting_for_workers()) return;
    while (st_.running < st_.cfg.max_concurrent_batches && !st_.ready.empty()) {
      BatchRun& run = st_.batches.at(st_.ready.front());
      st_.ready.pop_front();
      ++st_.running;
      run.started = true;
      run.started_at = steady::now();
      for (auto& n : graph().nodes) {
        NodeRun& nr = run.nodes[n->id];
        nr.runs = st_.needed[n->id] && graph().runs_at(*n, run.index);
        if (!nr.runs) nr.status = NodeRun::done;
      }
      for (auto id : graph().sources) {
        if (!st_.needed[id]) continue;
        NodeRun& nr = run.nodes[id];
        nr.result = std::move(run.source_data[id]);
        nr.status = NodeRun::done;
      }
      run.source_data.clear();
      advance(run);
    }
  }

  // ---- running the graph over one batch ------------------------------------

  // Starts every node of the batch whose inputs are ready.
  void advance(BatchRun& run) {
    bool all_done = true;
    for (auto& n : graph().nodes) {
      NodeRun& nr = run.nodes[n->id];
      if (nr.status != NodeRun::done) all_done = false;
      if (nr.status != NodeRun::waiting) continue;
      bool inputs_ready = true;
      for (auto& e : n->edges)
        if (run.nodes[e.parent->id].status != NodeRun::done) inputs_ready = false;
      if (!inputs_ready) continue;
      if (n->ordered && (st_.ordered_turns[n->id].empty() ||
                         st_.ordered_turns[n->id].front() != run.time))
        continue;
      start_map(run, *n);
    }
    if (all_done && !run.computed) {
      run.computed = true;
      maybe_complete(run);  // may erase `run`
    }
  }

  void start_map(BatchRun& run, const Node& n) {
    NodeRun& nr = run.nodes[n.id];
    nr.status = NodeRun::mapping;
    nr.map_out.resize(n.edges.size());
    for (std::size_t e = 0; e < n.edges.size(); ++e) {
      std::size_t tasks = run.nodes[n.edges[e].parent->id].result.size();
      nr.map_out[e].resize(tasks);
      for (std::size_t i = 0; i < tasks; ++i) {
        ++nr.pending;
        run_stateless(map_spec(run, n, static_cast<int>(e), static_cast<int>(i)));
      }
    }
    if (nr.pending == 0) map_done(run, n);
  }

  TaskSpec map_spec(const BatchRun& run, const Node& n, int e, int i) const {
    const Dataset& input = run.nodes[n.edges[e].parent->id].result;
    TaskSpec spec;
    spec.batch_time = run.time;
    spec.node = n.id;
    spec.phase = static_cast<int32_t>(Phase::map);
    spec.edge = e;
    spec.index = i;
    spec.num_partitions = static_cast<int32_t>(input.size());
    spec.inputs = {{input[i]}};
    // Shuffle buckets stay on the worker; reduce tasks fetch them from there.
    // State partitions get theirs through the coordinator, which keeps
    // their tasks for replay.
    spec.keep_output = n.reduce_partitions() > 0 && !holds_state(n);
    return spec;
  }

  TaskSpec reduce_spec(const BatchRun& run, const Node& n, int r) const {
    const NodeRun& nr = run.nodes[n.id];
    TaskSpec spec;
    spec.batch_time = run.time;
    spec.node = n.id;
    spec.phase = static_cast<int32_t>(Phase::reduce);
    spec.index = r;
    spec.num_partitions = n.reduce_partitions();
    spec.attempt = nr.shuffle_attempt;
    spec.inputs.resize(nr.map_out.size());
    for (std::size_t e = 0; e < nr.map_out.size(); ++e)
      for (std::size_t i = 0; i < nr.map_out[e].size(); ++i) {
        const MapOutput& out = nr.map_out[e][i];
        if (out.host) {
          spec.inputs[e].emplace_back();  // filled in by the host that fetches it
          spec.fetches.push_back({static_cast<int32_t>(e), static_cast<int32_t>(i), out.host});
        } else {
          spec.inputs[e].push_back(out.outputs.at(r));
        }
      }
    return spec;
  }

  void map_done(BatchRun& run, const Node& n) {
    NodeRun& nr = run.nodes[n.id];
    int reducers = n.reduce_partitions();
    if (reducers == 0) {
      std::vector<Dataset> outputs(nr.map_out.size());
      for (std::size_t e = 0; e < nr.map_out.size(); ++e)
        for (auto& task_out : nr.map_out[e])
          for (auto& p : task_out.outputs) outputs[e].push_back(std::move(p));
      nr.map_out.clear();
      node_done(run, n, std::move(outputs));
      return;
    }
    nr.status = NodeRun::reducing;
    nr.reduce_out.assign(reducers, Partition{});
    nr.pending = reducers;
    for (int r = 0; r < reducers; ++r) {
      if (holds_state(n))
        run_state_task(reduce_spec(run, n, r));
      else
        run_stateless(reduce_spec(run, n, r));
    }
  }

  // Map outputs kept on a worker that is gone (or that a reduce task could
  // not fetch): run those map tasks again; while reducing, the reduce tasks
  // still missing are sent again once they are done.
  void redo_map_outputs(BatchRun& run, const Node& n,
                        const std::vector<std::pair<int32_t, int32_t>>& lost) {
    NodeRun& nr = run.nodes[n.id];
    int redone = 0;
    for (auto [e, i] : lost) {
      MapOutput& out = nr.map_out.at(e).at(i);
      if (!out.done) continue;  // already running again
      out = MapOutput{};
      ++redone;
      if (nr.status == NodeRun::mapping)
        ++nr.pending;
      else
        ++nr.remaps;
      run_stateless(map_spec(run, n, e, i));
    }
    if (nr.status != NodeRun::reducing) return;
    ++nr.shuffle_attempt;  // fetch failures of earlier attempts are stale
    spdlog::warn("batch {}: shuffle blocks of {} map tasks of {} (node {}) were lost; running them again",
                 run.time, redone, n.name, n.id);
    if (nr.remaps == 0) resend_missing_reduces(run, n);
  }

  void resend_missing_reduces(BatchRun& run, const Node& n) {
    NodeRun& nr = run.nodes[n.id];
    for (int r = 0; r < static_cast<int>(nr.reduce_out.size()); ++r)
      if (nr.reduce_out[r].empty_handle()) run_stateless(reduce_spec(run, n, r));
  }

  static bool holds_state(const Node& n) {
    return n.stateful() || dynamic_cast<const ActorOperatorNode*>(&n) != nullptr;
  }

  static TaskKey task_key(const TaskSpec& s) {
    return TaskKey{s.batch_time, s.node, s.phase, s.edge, s.index};
  }
  static TaskKey task_key(const TaskResult& r) {
    return TaskKey{r.batch_time, r.node, r.phase, r.edge, r.index};
  }

  std::string describe(const TaskSpec& s) const {
    return "task (batch " + std::to_string(s.batch_time) + ", " + graph().nodes[s.node]->name +
           " node " + std::to_string(s.node) + (s.phase == 0 ? " map" : " reduce") +
           ", partition " + std::to_string(s.index) + ")";
  }

  // ---- stateless tasks -------------------------------------------------------

  // A stateless task runs on the next worker node, or here when none joined.
  // Tasks sent to workers are remembered until their result arrives, so a
  // lost worker's tasks can run again elsewhere.
  void run_stateless(TaskSpec spec) {
    if (st_.workers.empty()) {
      spec.keep_output = false;  // here, outputs come back with the result
      self_->send(st_.local_host, std::move(spec));  // it fetches what workers keep
      return;
    }
    Worker& w = st_.workers.next_not_slow(steady::now());
    InFlight& f = st_.in_flight[task_key(spec)];
    f.spec = spec;
    f.sent = steady::now();
    f.hosts = {w.host.address()};
    self_->send(w.host, std::move(spec));
  }

  // ---- state partitions --------------------------------------------------------

  // The partition's placement, made on first use: on a worker node when
  // there is one and checkpoints are on (a lost worker's partitions are
  // rebuilt from the last checkpoint plus the tasks since), else here.
  Placement& place(const PartitionKey& key) {
    auto it = st_.placements.find(key);
    if (it != st_.placements.end()) return it->second;
    Placement& p = st_.placements[key];
    assign_host(key, p);
    if (auto bytes = st_.pending_restore.find(key); bytes != st_.pending_restore.end()) {
      // Sent before any task of the partition: the host restores first.
      self_->send(p.host, restore_atom::value, key.first, key.second, std::move(bytes->second));
      st_.pending_restore.erase(bytes);
    }
    return p;
  }

  void assign_host(const PartitionKey& key, Placement& p) {
    bool remote = !st_.workers.empty() && st_.checkpoints != nullptr;
    if (remote) {
      Worker& w = st_.workers.next();
      p.host = w.host;
      p.label = w.label;
    } else {
      p.host = st_.local_host;
      p.label = "the coordinator";
    }
    p.remote = remote;
    spdlog::info("state partition {} of {} (node {}) placed on {}", key.second,
                 graph().nodes[key.first]->name, key.first, p.label);
  }

  void run_state_task(TaskSpec spec) {
    PartitionKey key{spec.node, spec.index};
    Placement& p = place(key);
    spec.attempt = p.attempt;
    if (p.remote) {
      st_.replay_log[key].push_back(spec);
      p.task_sent = steady::now();
      p.task_batch = spec.batch_time;
    }
    self_->send(p.host, std::move(spec));
  }

  // Moves a partition of a lost worker: restores the last checkpoint's state
  // on its new host, then replays every task it ran since, in order; results
  // of batches already complete are ignored, the one in flight counts.
  void relocate(const PartitionKey& key, StateSnapshotReader& snapshots) {
    Placement& p = st_.placements.at(key);
    ++p.attempt;
    p.task_sent.reset();
    assign_host(key, p);
    if (auto file = st_.state_files.find(key); file != st_.state_files.end())
      self_->send(p.host, restore_atom::value, key.first, key.second, snapshots.partition(file->second, key));
    auto& log = st_.replay_log[key];
    for (auto spec : log) {
      spec.attempt = p.attempt;
      p.task_sent = steady::now();
      p.task_batch = spec.batch_time;
      self_->send(p.host, std::move(spec));
    }
    if (!p.remote) st_.replay_log.erase(key);  // here it cannot be lost
  }

  // Right after a checkpoint, when no batch runs and every partition's
  // state is in the checkpoint's files: spreads the state partitions evenly
  // over the workers, moving those on the coordinator (placed before any
  // worker joined) or on the busiest worker to the least busy one.
  void rebalance_state_partitions() {
    if (st_.workers.empty()) return;
    std::map<caf::actor_addr, std::vector<PartitionKey>> held;
    for (auto& w : st_.workers.all()) held[w.host.address()];
    std::vector<PartitionKey> on_coordinator;
    for (auto& [key, p] : st_.placements) {
      if (!st_.state_files.count(key)) continue;  // no snapshot: its state could not move
      if (p.remote)
        held[p.host.address()].push_back(key);
      else
        on_coordinator.push_back(key);
    }
    auto by_load = [](const auto& a, const auto& b) { return a.second.size() < b.second.size(); };
    StateSnapshotReader snapshots(st_.cfg.checkpoint_dir);
    auto move_to_least_busy = [&](const PartitionKey& key) {
      auto least = std::min_element(held.begin(), held.end(), by_load);
      Worker* to = st_.workers.find(least->first);
      Placement& p = st_.placements.at(key);
      self_->send(p.host, drop_atom::value, key.first, key.second);
      spdlog::info("moving state partition {} of {} (node {}) from {} to {}", key.second,
                   graph().nodes[key.first]->name, key.first, p.label, to->label);
      ++p.attempt;
      p.host = to->host;
      p.label = to->label;
      p.remote = true;
      self_->send(p.host, restore_atom::value, key.first, key.second,
                  snapshots.partition(st_.state_files.at(key), key));
      least->second.push_back(key);
    };
    for (auto& key : on_coordinator) move_to_least_busy(key);
    for (;;) {
      auto most = std::max_element(held.begin(), held.end(), by_load);
      auto least = std::min_element(held.begin(), held.end(), by_load);
      if (most->second.size() <= least->second.size() + 1) break;
      PartitionKey key = most->second.back();
      most->second.pop_back();
      move_to_least_busy(key);
    }
  }

  // ---- worker nodes ----------------------------------------------------------------

  // Before the first batch the coordinator may wait for min_workers workers
  // (at most min_workers_wait_ms), so the first partitions spread over them.
  bool waiting_for_workers() {
    if (!st_.awaiting_workers) return false;
    bool enough = st_.workers.size() >= static_cast<std::size_t>(st_.cfg.min_workers);
    bool waited = steady::now() >= st_.workers_deadline;
    if (!enough && !waited) return true;
    st_.awaiting_workers = false;
    if (enough)
      spdlog::info("{} workers joined: starting", st_.workers.size());
    else
      spdlog::warn("only {} of {} workers joined within {} ms: starting anyway", st_.workers.size(),
                   st_.cfg.min_workers, st_.cfg.min_workers_wait_ms);
    return false;
  }

  caf::result<joined_atom> on_join(const caf::actor& host, const std::string& worker_graph) {
    std::string ours = fingerprint(graph());
    if (worker_graph != ours) {
      spdlog::error("refused a worker running a different pipeline (graph {}, ours {})",
                    worker_graph, ours);
      // The peer learns only that it differs, not what is expected.
      return caf::make_error(caf::sec::runtime_error,
                             "the worker runs a different pipeline (graph " + worker_graph +
                                 ") than the coordinator");
    }
    self_->monitor(host);
    Worker& w = st_.workers.add(host, steady::now());
    spdlog::info("{} ({}) joined; {} workers", w.label, to_string(host.node()), st_.workers.size());
    if (!std::exchange(st_.checks_scheduled, true)) schedule_check();
    start_ready_batches();
    return joined_atom::value;
  }

  // A worker died, was cut off or stopped answering: run its unfinished
  // stateless tasks again and rebuild its state partitions elsewhere.
  bool lose_worker(const caf::actor_addr& host, const std::string& why) {
    std::string label;
    if (!st_.workers.remove(host, &label)) return false;
    std::vector<TaskSpec> rerun;
    for (auto& [key, f] : st_.in_flight) {
      f.hosts.erase(std::remove(f.hosts.begin(), f.hosts.end(), host), f.hosts.end());
      if (f.hosts.empty()) rerun.push_back(f.spec);
    }
    for (auto& spec : rerun) st_.in_flight.erase(task_key(spec));
    redo_lost_shuffle_blocks(host);
    std::vector<PartitionKey> moved;
    for (auto& [key, p] : st_.placements)
      if (p.remote && p.host.address() == host) moved.push_back(key);
    spdlog::warn("lost {} ({}); running its {} unfinished tasks again and restoring its {} state "
                 "partitions from the last checkpoint; {} workers left",
                 label, why, rerun.size(), moved.size(), st_.workers.size());
    for (auto& spec : rerun) run_stateless(std::move(spec));
    StateSnapshotReader snapshots(st_.cfg.checkpoint_dir);
    try {
      for (auto& key : moved) relocate(key, snapshots);
    } catch (const std::exception& e) {
      fail(std::string("cannot restore the state partitions of ") + label + ": " + e.what());
      return true;
    }
    // Snapshots being collected may miss the lost worker's: start over.
    if (auto retake = st_.retake_checkpoint) retake();
    return true;
  }

  // Map outputs kept on a lost worker are gone with it: run those map tasks again.
  void redo_lost_shuffle_blocks(const caf::actor_addr& host) {
    for (auto& [t, run] : st_.batches) {
      if (!run.started) continue;
      for (auto& n : graph().nodes) {
        NodeRun& nr = run.nodes[n->id];
        if (nr.status != NodeRun::mapping && nr.status != NodeRun::reducing) continue;
        std::vector<std::pair<int32_t, int32_t>> lost;
        for (std::size_t e = 0; e < nr.map_out.size(); ++e)
          for (std::size_t i = 0; i < nr.map_out[e].size(); ++i) {
            const MapOutput& out = nr.map_out[e][i];
            if (out.done && out.host && out.host.address() == host)
              lost.emplace_back(static_cast<int32_t>(e), static_cast<int32_t>(i));
          }
        if (!lost.empty()) redo_map_outputs(run, *n, lost);
      }
    }
  }

  // ---- heartbeats and slow tasks ------------------------------------------------

  void schedule_check() {
    self_->delayed_send(self_, std::chrono::milliseconds(200), check_atom::value);
  }

  // Every 200 ms while workers exist: heartbeats (a hung worker answers
  // none), state tasks out longer than the worker timeout (their worker is
  // given up on), and speculative copies of slow stateless tasks.
  void on_check() {
    if (st_.finished) return;
    if (st_.awaiting_workers) start_ready_batches();
    auto now = steady::now();
    auto timeout = std::chrono::milliseconds(st_.cfg.worker_timeout_ms);
    std::vector<std::pair<caf::actor_addr, std::string>> given_up;
    for (auto& w : st_.workers.all()) {
      if (now - w.last_heartbeat > timeout) {
        given_up.emplace_back(w.host.address(), "no heartbeat for " + std::to_string(st_.cfg.worker_timeout_ms) + " ms");
        continue;
      }
      if (w.ping_out) continue;
      w.ping_out = true;
      self_->request(w.host, timeout, ping_atom::value)
          .then([this, host = w.host.address()](ping_atom) {
                  if (Worker* w = st_.workers.find(host)) {
                    w->last_heartbeat = steady::now();
                    w->ping_out = false;
                  }
                },
                [this, host = w.host.address()](caf::error&) {
                  if (Worker* w = st_.workers.find(host)) w->ping_out = false;
                });
    }
    for (auto& [key, p] : st_.placements)
      if (p.remote && p.task_sent && now - *p.task_sent > timeout)
        given_up.emplace_back(p.host.address(), "a task of state partition " + std::to_string(key.second) +
                                                    " ran longer than " + std::to_string(st_.cfg.worker_timeout_ms) + " ms");
    for (auto& [host, why] : given_up) {
      Worker* w = st_.workers.find(host);
      if (!w) continue;  // given up on for two reasons at once
      caf::actor handle = w->host;
      self_->demonitor(handle);
      lose_worker(host, why);
      self_->send(handle, stop_atom::value);  // should it wake up: stop, do not rejoin
    }
    if (st_.cfg.speculation) speculate(now);
    schedule_check();
  }

  void speculate(steady::time_point now) {
    auto median = st_.task_times.median();
    if (!median) return;  // no idea yet what normal is
    double threshold = std::max<double>(st_.cfg.speculation_min_ms, 4 * *median);
    for (auto& [key, f] : st_.in_flight) {
      double age = ms_between(f.sent, now);
      if (f.speculated || age < threshold) continue;
      f.speculated = true;
      if (Worker* slow = st_.workers.find(f.hosts.front())) slow->slow_until = now + std::chrono::seconds(5);
      // A copy on another worker, or here; the first result counts.
      Worker* other = st_.workers.other_than(f.hosts);
      spdlog::info("{} has run for {:.0f} ms (median {:.1f} ms): running a copy on {}",
                   describe(f.spec), age, *median, other ? other->label : "the coordinator");
      if (other) {
        f.hosts.push_back(other->host.address());
        self_->send(other->host, f.spec);
      } else {
        TaskSpec copy = f.spec;
        copy.keep_output = false;
        self_->send(st_.local_host, std::move(copy));
      }
    }
  }

  void on_task_result(TaskResult& res) {
    // Kept map outputs live on the worker that sent the result.
    caf::actor keeper;
    if (res.kept && res.error.empty()) {
      Worker* w = st_.workers.find(caf::actor_cast<caf::actor_addr>(self_->current_sender()));
      if (!w) return;  // a lost worker's: its task runs again
      keeper = w->host;
    }
    if (auto f = st_.in_flight.find(task_key(res)); f != st_.in_flight.end()) {
      st_.task_times.add(ms_between(f->second.sent, steady::now()));
      st_.in_flight.erase(f);
    }
    const Node& n = *graph().nodes.at(static_cast<std::size_t>(res.node));
    bool is_map = res.phase == static_cast<int32_t>(Phase::map);
    if (!is_map && holds_state(n)) {
      auto p = st_.placements.find({res.node, res.index});
      // A result from a placement given up on is stale.
      if (p == st_.placements.end() || p->second.attempt != res.attempt) return;
      if (res.batch_time >= p->second.task_batch) p->second.task_sent.reset();
    }
    auto it = st_.batches.find(res.batch_time);
    if (it == st_.batches.end()) return;  // batch abandoned
    BatchRun& run = it->second;
    NodeRun& nr = run.nodes[n.id];
    // A task run twice (its worker was thought lost, or slow) reports
    // twice: the first result counts.
    if (is_map ? ((nr.status != NodeRun::mapping && nr.status != NodeRun::reducing) ||
                  nr.map_out[res.edge][res.index].done)
               : (nr.status != NodeRun::reducing || !nr.reduce_out[res.index].empty_handle()))
      return;
    if (!res.lost_maps.empty()) {  // a reduce task could not fetch its blocks
      if (res.attempt != nr.shuffle_attempt) return;  // already dealt with
      std::vector<std::pair<int32_t, int32_t>> lost;
      for (std::size_t k = 0; k < res.lost_maps.size(); ++k) lost.emplace_back(res.lost_edges[k], res.lost_maps[k]);
      spdlog::warn("batch {}: reduce partition {} of {}: {}", res.batch_time, res.index, n.name, res.error);
      redo_map_outputs(run, n, lost);
      return;
    }
    if (!res.error.empty()) {
      std::string where = is_map ? n.edges[res.edge].input + " feeding " + n.name : n.name;
      fail("batch " + std::to_string(res.batch_time) + ": " + where + " (node " +
           std::to_string(n.id) + ", partition " + std::to_string(res.index) +
           ") failed: " + res.error);
      return;
    }
    if (is_map) {
      if (!res.kept && n.reduce_partitions() > 0 &&
          res.outputs.size() != static_cast<std::size_t>(n.reduce_partitions())) {
        fail("operator " + n.name + " wrote " + std::to_string(res.outputs.size()) +
             " buckets, expected " + std::to_string(n.reduce_partitions()));
        return;
      }
      nr.map_out[res.edge][res.index] = MapOutput{true, std::move(res.outputs), keeper};
      if (nr.status == NodeRun::mapping) {
        if (--nr.pending == 0) map_done(run, n);
      } else if (--nr.remaps == 0) {
        resend_missing_reduces(run, n);
      }
    } else {
      nr.reduce_out[res.index] = std::move(res.outputs.at(0));
      if (--nr.pending == 0) {
        std::vector<Dataset> outputs{std::move(nr.reduce_out)};
        node_done(run, n, std::move(outputs));
      }
    }
  }

  void node_done(BatchRun& run, const Node& n, std::vector<Dataset> outputs) {
    NodeRun& nr = run.nodes[n.id];
    Dataset result = graph().nodes[n.id]->finish(run.time, std::move(outputs));
    nr.status = NodeRun::done;
    if (graph().produces_at(n, run.index)) {
      if (dynamic_cast<const OutputNode*>(&n))
        self_->send(st_.sink, OutputReady{run.time, n.id, std::move(result)});
      else
        nr.result = std::move(result);
    }
    if (n.ordered) {
      st_.ordered_turns[n.id].pop_front();
      // A later batch may have been waiting for this node's turn.
      std::vector<int64_t> others;
      for (auto& [t, other] : st_.batches)
        if (other.started && t != run.time) others.push_back(t);
      for (auto t : others) {
        auto it = st_.batches.find(t);
        if (it != st_.batches.end()) advance(it->second);
      }
    }
    advance(run);  // may erase `run`
  }

  void on_batch_emitted(const BatchEmitted& done) {
    if (!done.error.empty()) {
      fail("batch " + std::to_string(done.batch_time) + ": " + done.error);
      return;
    }
    auto it = st_.batches.find(done.batch_time);
    if (it == st_.batches.end()) return;
    it->second.emitted = true;
    maybe_complete(it->second);
  }

  // A batch is complete once it is computed and its outputs were emitted
  // (either may come first: a batch without active outputs is acknowledged
  // by the sink before its nodes ran, and window inputs still must run).
  void maybe_complete(BatchRun& run) {
    if (!run.computed || !run.emitted) return;
    auto now = steady::now();
    BatchInfo info;
    info.batch_time_ms = run.time;
    info.batch_index = run.index;
    info.input_records = run.records;
    info.scheduling_delay_ms = ms_between(run.interval_end, run.started_at);
    info.processing_time_ms = ms_between(run.started_at, now);
    info.total_delay_ms = ms_between(run.interval_end, now);
    spdlog::debug("batch {}: {} records, processing {:.1f} ms, total delay {:.1f} ms",
                  run.time, run.records, info.processing_time_ms, info.total_delay_ms);
    int64_t index = run.index;
    auto positions = std::move(run.source_positions);
    for (auto& w : st_.workers.all()) self_->send(w.host, release_atom::value, run.time);  // its shuffle blocks
    st_.batches.erase(info.batch_time_ms);  // `run` dies here
    --st_.running;
    st_.cfg.monitor->processed_records += info.input_records;
    adjust_ingest_rate(info);
    st_.cfg.monitor->batch_completed(info);
    if (st_.checkpoints && (index + 1) % st_.cfg.checkpoint_every == 0)
      take_checkpoint(index, info.batch_time_ms, std::move(positions));
    else if (!st_.checkpoints)  // nothing will replay this batch: it is done
      for (auto& [id, pos] : positions)
        if (!pos.empty() && !st_.receivers.count(id)) commit_source(id, pos);
    start_ready_batches();
    maybe_finish_graceful_stop();
  }

  // Backpressure: tell the receivers the rate the last batch shows the job
  // can sustain (Spark's PID rate estimator).
  void adjust_ingest_rate(const BatchInfo& info) {
    if (!st_.estimator || st_.receivers.empty()) return;
    auto rate = st_.estimator->compute(info.batch_time_ms, info.input_records,
                                       info.processing_time_ms, info.scheduling_delay_ms);
    if (!rate) return;
    double per_receiver = *rate / static_cast<double>(st_.receivers.size());
    st_.cfg.monitor->ingest_rate = *rate;
    spdlog::debug("backpressure: ingest rate {:.0f} records/s", *rate);
    for (auto& [id, r] : st_.receivers) self_->send(r, rate_atom::value, per_receiver);
  }

  // ---- checkpoints --------------------------------------------------------------

  // Batch `index` just completed and no other batch runs (checkpointing
  // needs max_concurrent_batches == 1): every partition's state is the state
  // after this batch. Each host (this process's and every worker's) writes
  // the partitions it holds to its own state file; the checkpoint names them.
  // Batches wait until it is written.
  void take_checkpoint(int64_t index, int64_t time, std::map<int32_t, std::string> positions) {
    st_.checkpointing = true;
    // Partitions restored at start-up but not used since still belong in it.
    std::vector<PartitionKey> unplaced;
    for (auto& [key, bytes] : st_.pending_restore) unplaced.push_back(key);
    for (auto& key : unplaced) place(key);
    int round = ++st_.checkpoint_round;
    st_.retake_checkpoint = [this, index, time, positions] { take_checkpoint(index, time, positions); };
    auto cp = std::make_shared<Checkpoint>();
    cp->graph_fingerprint = fingerprint(graph());
    cp->batch_interval_ms = interval();
    cp->zero_time_ms = st_.zero_time;
    cp->next_batch_index = index + 1;
    cp->last_batch_time_ms = time;
    cp->source_positions = positions;
    for (auto& n : graph().nodes)
      if (st_.needed[n->id])
        if (auto bytes = n->save_state(); !bytes.empty()) cp->node_states[n->id] = bytes;
    std::vector<std::pair<caf::actor, std::string>> hosts{{st_.local_host, "coordinator"}};
    for (auto& w : st_.workers.all()) hosts.emplace_back(w.host, w.label);
    auto pending = std::make_shared<std::size_t>(hosts.size());
    for (auto& [host, label] : hosts) {
      std::string file = state_snapshot_name(time, label);
      self_->request(host, caf::infinite, snapshot_atom::value, st_.cfg.checkpoint_dir + "/" + file)
          .then(
              [this, cp, pending, round, file](HostSnapshot& snap) {
                if (round != st_.checkpoint_round) return;
                for (std::size_t i = 0; i < snap.nodes.size(); ++i)
                  cp->state_files[{snap.nodes[i], snap.partitions[i]}] = file;
                for (auto id : snap.stateless_nodes)
                  if (st_.stateless_operators.insert(id).second)
                    spdlog::warn("operator {} answers no snapshot_atom; its state is not checkpointed",
                                 graph().nodes[id]->name);
                if (--*pending == 0) write_checkpoint(*cp);
              },
              [this, round, label = label](caf::error& err) {
                // A worker lost meanwhile makes lose_worker() start a new round.
                if (round != st_.checkpoint_round || err == caf::sec::request_receiver_down) return;
                fail("cannot write checkpoint: " + label + " could not write its state snapshot: " +
                     self_->system().render(err));
              });
    }
  }

  void write_checkpoint(const Checkpoint& cp) {
    st_.retake_checkpoint = nullptr;
    try {
      st_.checkpoints->save(cp);
    } catch (const std::exception& e) {
      fail(std::string("cannot write checkpoint: ") + e.what());
      return;
    }
    spdlog::debug("checkpoint written after batch {}", cp.last_batch_time_ms);
    // Every partition's state up to this batch is in the checkpoint now.
    st_.state_files = cp.state_files;
    st_.replay_log.clear();
    try {
      rebalance_state_partitions();
    } catch (const std::exception& e) {
      fail(std::string("cannot move state partitions: ") + e.what());
      return;
    }
    // The receivers' logs before the checkpointed positions are not needed any more.
    for (auto& [id, pos] : cp.source_positions) {
      if (pos.empty()) continue;
      if (auto r = st_.receivers.find(id); r != st_.receivers.end())
        self_->send(r->second, truncate_atom::value, std::stoll(pos));
      else
        commit_source(id, pos);
    }
    st_.checkpointing = false;
    start_ready_batches();
    maybe_finish_graceful_stop();
  }

  void commit_source(int id, const std::string& position) {
    try {
      static_cast<SourceNode&>(*graph().nodes.at(id)).committed(position);
    } catch (const std::exception& e) {
      spdlog::warn("source {} could not release input up to {}: {}", graph().nodes.at(id)->name,
                   position, e.what());
    }
  }

  std::map<int32_t, std::string> current_source_positions() const {
    std::map<int32_t, std::string> positions;
    for (auto id : graph().sources)
      positions[id] = static_cast<const SourceNode&>(*graph().nodes[id]).position();
    return positions;
  }

  // Puts the job back where checkpoint `cp` left it, before the first batch.
  void restore(const Checkpoint& cp) {
    st_.zero_time = cp.zero_time_ms;
    st_.next_index = cp.next_batch_index;
    for (auto& [id, pos] : cp.source_positions)
      if (!st_.receivers.count(id))  // receivers replay their own log
        static_cast<SourceNode&>(*graph().nodes.at(id)).seek(pos);
    for (auto& [id, bytes] : cp.node_states) graph().nodes.at(id)->restore_state(bytes);
    // State partitions are placed (and restored there) when first used.
    st_.pending_restore = cp.partition_states;
    st_.state_files = cp.state_files;
    spdlog::info("recovered from checkpoint of batch {}: resuming with batch {}, {} state "
                 "partitions to restore",
                 cp.last_batch_time_ms, cp.last_batch_time_ms + interval(),
                 cp.partition_states.size());
  }

  // ---- stopping ---------------------------------------------------------------

  void on_stop(bool graceful) {
    if (!graceful) {
      spdlog::info("stopping now; {} batches in flight are abandoned", st_.batches.size());
      finish("");
      return;
    }
    if (st_.stopping) return;
    st_.stopping = true;
    spdlog::info("stopping gracefully: stopping receivers, then processing all received data");
    if (st_.receivers.empty()) {
      st_.final_interval_closed = true;
      maybe_finish_graceful_stop();
      return;
    }
    auto pending = std::make_shared<std::size_t>(st_.receivers.size());
    for (auto& [id, r] : st_.receivers) {
      self_->request(r, caf::infinite, stop_atom::value)
          .then(
              [this, pending](done_atom) {
                if (--*pending > 0) return;
                // Every record the receivers accepted is buffered in them:
                // one last interval takes it all.
                close_interval();
                st_.final_interval_closed = true;
                maybe_finish_graceful_stop();
              },
              [this, id = id](caf::error& err) {
                fail("receiver of stream " + std::to_string(id) +
                     " failed to stop: " + self_->system().render(err));
              });
    }
  }

  void maybe_finish_graceful_stop() {
    if (st_.stopping && st_.final_interval_closed && st_.batches.empty() &&
        !st_.checkpointing) {
      spdlog::info("stopped gracefully after {} batches", st_.next_index);
      finish("");
    }
  }

  void fail(const std::string& what) {
    spdlog::error("job failed: {}", what);
    finish(what);
  }

  // Ends the job: stops every actor the coordinator started, then itself.
  void finish(const std::string& error) {
    if (std::exchange(st_.finished, true)) return;
    for (auto& [id, r] : st_.receivers) self_->send_exit(r, caf::exit_reason::user_shutdown);
    if (st_.local_host) self_->send_exit(st_.local_host, caf::exit_reason::user_shutdown);
    // Workers stop too, rather than waiting for this coordinator to come back.
    for (auto& w : st_.workers.all()) self_->send(w.host, stop_atom::value);
    if (st_.sink) self_->send_exit(st_.sink, caf::exit_reason::user_shutdown);
    st_.receivers.clear();
    st_.workers = WorkerPool{};
    st_.placements.clear();
    st_.local_host = nullptr;
    st_.cfg.monitor->terminated(error);
    self_->quit();
  }

  void on_down(const caf::down_msg& msg) {
    if (lose_worker(msg.source, self_->system().render(msg.reason))) return;
    for (auto& [id, r] : st_.receivers)
      if (r.address() == msg.source) {
        fail("receiver of stream " + std::to_string(id) + " died: " +
             self_->system().render(msg.reason));
        return;
      }
  }

 private:
  void mark_needed(int id) {
    if (st_.needed[id]) return;
    st_.needed[id] = true;
    for (auto& e : graph().nodes[id]->edges) mark_needed(e.parent->id);
  }

  coordinator_actor* self_;
  CoordinatorState& st_;
};

caf::behavior coordinator_actor_fn(coordinator_actor* self, CoordinatorConfig cfg) {
  self->state.cfg = std::move(cfg);
  auto c = std::make_shared<Coordinator>(self);
  self->set_down_handler([c](caf::down_msg& msg) { c->on_down(msg); });
  c->start();
  return {
      [c](tick_atom) { c->on_tick(); },
      [c](TaskResult& res) { c->on_task_result(res); },
      [c](BatchEmitted& done) { c->on_batch_emitted(done); },
      [c, self](stop_atom, bool) {
        // Only this process stops its job (see JobMonitor::request_stop);
        // the sender of a message cannot be trusted (CAF lets a peer name any).
        if (auto graceful = self->state.cfg.monitor->stop_request()) return c->on_stop(*graceful);
        spdlog::warn("ignored a stop message that this process did not ask for");
      },
      [c](join_atom, const caf::actor& host, const std::string& graph) {
        return c->on_join(host, graph);
      },
      [c](check_atom) { c->on_check(); },
  };
}

}  // namespace

caf::actor spawn_coordinator(caf::actor_system& sys, CoordinatorConfig config) {
  // Detached: intervals close on time even when every scheduler thread is
  // busy with long tasks.
  return sys.spawn<caf::detached>(coordinator_actor_fn, std::move(config));
}

}  // namespace trib
