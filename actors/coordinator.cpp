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
#include "actors/receiver_actor.hpp"
#include "actors/sink_actor.hpp"
#include "actors/task_actor.hpp"
#include "dstream/nodes.hpp"
#include "dstream/rate_estimator.hpp"
#include "recovery/fault_injection.hpp"

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

// One node's progress within one batch.
struct NodeRun {
  enum Status { waiting, mapping, reducing, done };
  Status status = waiting;
  bool runs = false;
  int pending = 0;  // tasks still out
  std::vector<std::vector<std::vector<Partition>>> map_out;  // [edge][task] -> outputs
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

struct CoordinatorState {
  CoordinatorConfig cfg;
  std::map<int64_t, BatchRun> batches;  // not yet emitted, by time
  std::deque<int64_t> ready;            // formed, waiting for a free slot
  int running = 0;
  std::map<int, caf::actor> receivers;  // by source node id
  caf::actor sink;
  std::map<std::pair<int, int>, caf::actor> executors;  // (node, partition)
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
  std::vector<caf::actor> workers;            // worker nodes that joined
  std::size_t next_worker = 0;
  std::map<caf::actor_addr, std::map<TaskKey, TaskSpec>> remote_tasks;  // in flight, per worker
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
    if (st_.checkpointing) return;
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
      const Dataset& input = run.nodes[n.edges[e].parent->id].result;
      nr.map_out[e].resize(input.size());
      for (std::size_t i = 0; i < input.size(); ++i) {
        TaskSpec spec;
        spec.batch_time = run.time;
        spec.node = n.id;
        spec.phase = static_cast<int32_t>(Phase::map);
        spec.edge = static_cast<int32_t>(e);
        spec.index = static_cast<int32_t>(i);
        spec.num_partitions = static_cast<int32_t>(input.size());
        spec.inputs = {{input[i]}};
        ++nr.pending;
        run_stateless(std::move(spec));
      }
    }
    if (nr.pending == 0) map_done(run, n);
  }

  void map_done(BatchRun& run, const Node& n) {
    NodeRun& nr = run.nodes[n.id];
    int reducers = n.reduce_partitions();
    if (reducers == 0) {
      std::vector<Dataset> outputs(nr.map_out.size());
      for (std::size_t e = 0; e < nr.map_out.size(); ++e)
        for (auto& task_out : nr.map_out[e])
          for (auto& p : task_out) outputs[e].push_back(std::move(p));
      node_done(run, n, std::move(outputs));
      return;
    }
    nr.status = NodeRun::reducing;
    nr.reduce_out.assign(reducers, Partition{});
    nr.pending = reducers;
    for (int r = 0; r < reducers; ++r) {
      TaskSpec spec;
      spec.batch_time = run.time;
      spec.node = n.id;
      spec.phase = static_cast<int32_t>(Phase::reduce);
      spec.index = r;
      spec.num_partitions = reducers;
      spec.inputs.resize(nr.map_out.size());
      for (std::size_t e = 0; e < nr.map_out.size(); ++e)
        for (auto& task_out : nr.map_out[e]) spec.inputs[e].push_back(task_out.at(r));
      if (auto* op = dynamic_cast<const ActorOperatorNode*>(&n))
        dispatch_to_operator(run.time, *op, r, std::move(spec.inputs.at(0)));
      else if (n.stateful())
        self_->send(executor(n.id, r), std::move(spec));
      else
        run_stateless(std::move(spec));
    }
    nr.map_out.clear();
  }

  // A stateless task runs on the next worker node, or here when none joined.
  // Tasks sent to a worker are remembered until their result arrives, so a
  // lost worker's tasks can run again elsewhere.
  void run_stateless(TaskSpec spec) {
    if (st_.workers.empty()) {
      spawn_task(self_->system(), st_.cfg.graph, std::move(spec), caf::actor_cast<caf::actor>(self_));
      return;
    }
    auto& worker = st_.workers[st_.next_worker++ % st_.workers.size()];
    st_.remote_tasks[worker.address()][task_key(spec)] = spec;
    self_->send(worker, std::move(spec));
  }

  static TaskKey task_key(const TaskSpec& s) {
    return TaskKey{s.batch_time, s.node, s.phase, s.edge, s.index};
  }
  static TaskKey task_key(const TaskResult& r) {
    return TaskKey{r.batch_time, r.node, r.phase, r.edge, r.index};
  }

  caf::result<joined_atom> on_join(const caf::actor& worker, const std::string& worker_graph) {
    std::string ours = fingerprint(graph());
    if (worker_graph != ours) {
      spdlog::error("refused a worker running a different pipeline (graph {}, ours {})",
                    worker_graph, ours);
      return caf::make_error(caf::sec::runtime_error,
                             "the worker runs a different pipeline (graph " + worker_graph +
                                 ") than the coordinator (graph " + ours + ")");
    }
    self_->monitor(worker);
    st_.workers.push_back(worker);
    spdlog::info("worker {} joined; {} workers", to_string(worker.node()), st_.workers.size());
    return joined_atom::value;
  }

  // A worker died or was cut off: run its unfinished tasks again.
  bool on_worker_down(const caf::actor_addr& who, const caf::error& reason) {
    auto it = std::find_if(st_.workers.begin(), st_.workers.end(),
                           [&](const caf::actor& w) { return w.address() == who; });
    if (it == st_.workers.end()) return false;
    st_.workers.erase(it);
    auto lost = std::move(st_.remote_tasks[who]);
    st_.remote_tasks.erase(who);
    spdlog::warn("lost a worker ({}); running its {} unfinished tasks again; {} workers left",
                 self_->system().render(reason), lost.size(), st_.workers.size());
    for (auto& [key, spec] : lost) run_stateless(std::move(spec));
    return true;
  }

  caf::actor executor(int node, int partition) {
    auto& slot = st_.executors[{node, partition}];
    if (!slot)
      slot = spawn_partition_executor(self_->system(), st_.cfg.graph, node, partition,
                                      caf::actor_cast<caf::actor>(self_));
    return slot;
  }

  // Custom actor operators: the user's actor for partition r computes it.
  void dispatch_to_operator(int64_t t, const ActorOperatorNode& op, int r,
                            std::vector<Partition> buckets) {
    auto& actor = st_.executors[{op.id, r}];
    if (!actor) actor = op.spawn_operator(self_->system(), r);
    op.dispatch(self_, actor, t, std::move(buckets),
                [this, t, id = op.id, r](Partition out, std::string error) {
                  TaskResult res;
                  res.batch_time = t;
                  res.node = id;
                  res.phase = static_cast<int32_t>(Phase::reduce);
                  res.index = r;
                  res.outputs.push_back(std::move(out));
                  res.error = std::move(error);
                  on_task_result(res);
                });
  }

  void on_task_result(TaskResult& res) {
    for (auto& [worker, tasks] : st_.remote_tasks) tasks.erase(task_key(res));
    auto it = st_.batches.find(res.batch_time);
    if (it == st_.batches.end()) return;  // batch abandoned
    BatchRun& run = it->second;
    const Node& n = *graph().nodes.at(static_cast<std::size_t>(res.node));
    // A task run twice (its worker was thought lost) reports twice: the
    // first result counts.
    NodeRun& current = run.nodes[n.id];
    bool is_map = res.phase == static_cast<int32_t>(Phase::map);
    if (is_map ? (current.status != NodeRun::mapping || !current.map_out[res.edge][res.index].empty())
               : (current.status != NodeRun::reducing || !current.reduce_out[res.index].empty_handle()))
      return;
    if (!res.error.empty()) {
      std::string where = res.phase == static_cast<int32_t>(Phase::map)
                              ? n.edges[res.edge].input + " feeding " + n.name
                              : n.name;
      fail("batch " + std::to_string(res.batch_time) + ": " + where + " (node " +
           std::to_string(n.id) + ", partition " + std::to_string(res.index) +
           ") failed: " + res.error);
      return;
    }
    NodeRun& nr = run.nodes[n.id];
    if (res.phase == static_cast<int32_t>(Phase::map)) {
      if (n.reduce_partitions() > 0 &&
          res.outputs.size() != static_cast<std::size_t>(n.reduce_partitions())) {
        fail("operator " + n.name + " wrote " + std::to_string(res.outputs.size()) +
             " buckets, expected " + std::to_string(n.reduce_partitions()));
        return;
      }
      nr.map_out[res.edge][res.index] = std::move(res.outputs);
      if (--nr.pending == 0) map_done(run, n);
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
  // needs max_concurrent_batches == 1): every executor's state is the state
  // after this batch. Collect it and write the checkpoint; batches wait.
  void take_checkpoint(int64_t index, int64_t time, std::map<int32_t, std::string> positions) {
    st_.checkpointing = true;
    auto cp = std::make_shared<Checkpoint>();
    cp->graph_fingerprint = fingerprint(graph());
    cp->batch_interval_ms = interval();
    cp->zero_time_ms = st_.zero_time;
    cp->next_batch_index = index + 1;
    cp->last_batch_time_ms = time;
    cp->source_positions = std::move(positions);
    for (auto& n : graph().nodes)
      if (st_.needed[n->id])
        if (auto bytes = n->save_state(); !bytes.empty()) cp->node_states[n->id] = bytes;
    auto pending = std::make_shared<std::size_t>(1);  // +1 until all requests are out
    auto one_done = [this, cp, pending] {
      if (--*pending == 0) write_checkpoint(*cp);
    };
    for (auto& [key, actor] : st_.executors) {
      if (st_.stateless_operators.count(key.first)) continue;
      ++*pending;
      self_->request(actor, caf::infinite, snapshot_atom::value)
          .then(
              [cp, key = key, one_done](std::string& bytes) {
                cp->partition_states[{key.first, key.second}] = std::move(bytes);
                one_done();
              },
              [this, key = key, one_done](caf::error& err) {
                // An actor operator without snapshot support keeps no state
                // we could restore: say so once.
                if (st_.stateless_operators.insert(key.first).second)
                  spdlog::warn("operator {} answers no snapshot_atom ({}); its state is not "
                               "checkpointed",
                               graph().nodes[key.first]->name, self_->system().render(err));
                one_done();
              });
    }
    one_done();
  }

  void write_checkpoint(const Checkpoint& cp) {
    try {
      st_.checkpoints->save(cp);
    } catch (const std::exception& e) {
      fail(std::string("cannot write checkpoint: ") + e.what());
      return;
    }
    spdlog::debug("checkpoint written after batch {}", cp.last_batch_time_ms);
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
    for (auto& [key, bytes] : cp.partition_states) {
      const Node& n = *graph().nodes.at(key.first);
      caf::actor target;
      if (auto* op = dynamic_cast<const ActorOperatorNode*>(&n)) {
        auto& slot = st_.executors[{key.first, key.second}];
        if (!slot) slot = op->spawn_operator(self_->system(), key.second);
        target = slot;
      } else {
        target = executor(key.first, key.second);
      }
      // Sent before any batch's task: the actor restores first.
      self_->send(target, restore_atom::value, bytes);
    }
    spdlog::info("recovered from checkpoint of batch {}: resuming with batch {}, {} state "
                 "partitions restored",
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
    for (auto& [key, e] : st_.executors) self_->send_exit(e, caf::exit_reason::user_shutdown);
    // Workers stop too, rather than waiting for this coordinator to come back.
    for (auto& w : st_.workers) self_->send(w, stop_atom::value);
    if (st_.sink) self_->send_exit(st_.sink, caf::exit_reason::user_shutdown);
    st_.receivers.clear();
    st_.executors.clear();
    st_.cfg.monitor->terminated(error);
    self_->quit();
  }

  void on_down(const caf::down_msg& msg) {
    if (on_worker_down(msg.source, msg.reason)) return;
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
      [c](stop_atom, bool graceful) { c->on_stop(graceful); },
      [c](join_atom, const caf::actor& worker, const std::string& graph) {
        return c->on_join(worker, graph);
      },
  };
}

}  // namespace

caf::actor spawn_coordinator(caf::actor_system& sys, CoordinatorConfig config) {
  // Detached: intervals close on time even when every scheduler thread is
  // busy with long tasks.
  return sys.spawn<caf::detached>(coordinator_actor_fn, std::move(config));
}

}  // namespace trib
