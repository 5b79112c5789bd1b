#include "actors/batch_executor.hpp"

#include <spdlog/spdlog.h>

#include "dstream/core/map_ahead.hpp"

namespace trib {
namespace {

double ms_between(steady::time_point a, steady::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

BatchExecutor::BatchExecutor(std::shared_ptr<const Graph> graph, int max_concurrent_batches,
                             ExecutorListener& listener)
    : graph_(std::move(graph)), max_concurrent_(max_concurrent_batches), listener_(listener) {
  needed_ = nodes_feeding_outputs(*graph_);
  ordered_turns_.resize(graph_->nodes.size());
  ahead_sources_ = map_ahead_readers(*graph_, needed_);
}

BatchExecutor::BatchRun& BatchExecutor::run_of(int64_t t) {
  BatchRun& run = batches_[t];
  if (run.nodes.empty()) run.nodes.resize(graph().nodes.size());
  return run;
}

std::size_t BatchExecutor::batches() const {
  std::size_t n = 0;
  for (const auto& [t, run] : batches_) n += run.is_formed ? 1 : 0;
  return n;
}

std::vector<int32_t> BatchExecutor::add(FormedBatch batch) {
  std::vector<int32_t> outputs;
  for (auto id : graph().outputs)
    if (graph().produces_at(*graph().nodes[id], batch.index)) outputs.push_back(id);
  for (auto& n : graph().nodes)
    if (n->ordered && needed_[n->id] && graph().runs_at(*n, batch.index))
      ordered_turns_[n->id].push_back(batch.time);
  int64_t t = batch.time;
  BatchRun& run = run_of(t);  // may hold slots mapped ahead
  run.formed = std::move(batch);
  run.is_formed = true;
  ready_.push_back(t);
  return outputs;
}

bool BatchExecutor::map_ahead_pays(int id) const {
  auto readers = ahead_sources_.find(id);
  return readers != ahead_sources_.end() && trib::map_ahead_pays(*graph_, readers->second);
}

double BatchExecutor::ahead_records_per_key(int id) const {
  auto readers = ahead_sources_.find(id);
  return readers == ahead_sources_.end() ? 0 : trib::combine_records_per_key(*graph_, readers->second);
}

void BatchExecutor::add_slot(int64_t t, int64_t k, int id, Dataset slot, int expected_slots) {
  auto readers = ahead_sources_.find(id);
  BatchRun& run = run_of(t);
  if (readers == ahead_sources_.end() || run.is_formed) {
    listener_.failed("internal: a slot of source " + std::to_string(id) + " for batch " + std::to_string(t) +
                     (run.is_formed ? " came after the batch formed" : " cannot be mapped ahead"));
    return;
  }
  run.formed.time = t;
  run.formed.index = k;
  Dataset& input = run.nodes[id].result;
  auto first = static_cast<int>(input.size());
  for (auto& p : slot) input.push_back(std::move(p));
  auto end = static_cast<int>(input.size());
  run.slots[id] = input.size();
  // Every reader's outputs marked before any task is sent: a listener may
  // run a task at once, and its result looks at all readers' (release).
  for (int node : readers->second) {
    NodeRun& nr = run.nodes[node];
    nr.map_out.resize(1);
    nr.map_out[0].resize(static_cast<std::size_t>(end));
    for (int i = first; i < end; ++i) nr.map_out[0][static_cast<std::size_t>(i)].ahead = true;
  }
  for (int node : readers->second)
    for (int i = first; i < end; ++i) {
      TaskSpec spec = map_spec(run, *graph().nodes[node], 0, i);
      spec.num_partitions = std::max(expected_slots, end);
      listener_.task_ready(std::move(spec), false);
    }
}

void BatchExecutor::start_ready(steady::time_point now) {
  while (running_ < max_concurrent_ && !ready_.empty()) {
    BatchRun& run = batches_.at(ready_.front());
    ready_.pop_front();
    ++running_;
    run.started = true;
    run.started_at = now;
    for (auto& n : graph().nodes) {
      NodeRun& nr = run.nodes[n->id];
      if (!needed_[n->id] || !graph().runs_at(*n, run.formed.index)) nr.status = NodeRun::done;
    }
    for (auto id : graph().sources) {
      if (!needed_[id]) continue;
      NodeRun& nr = run.nodes[id];
      // After the slots mapped ahead, if any.
      for (auto& p : run.formed.source_data[id]) nr.result.push_back(std::move(p));
      nr.status = NodeRun::done;
    }
    run.formed.source_data.clear();
    advance(run, now);
  }
}

// Starts every node of the batch whose inputs are ready.
void BatchExecutor::advance(BatchRun& run, steady::time_point now) {
  bool all_done = true;
  for (auto& n : graph().nodes) {
    NodeRun& nr = run.nodes[n->id];
    if (nr.status != NodeRun::done) all_done = false;
    if (nr.status != NodeRun::waiting) continue;
    bool inputs_ready = true;
    for (auto& e : n->edges)
      if (run.nodes[e.parent->id].status != NodeRun::done) inputs_ready = false;
    if (!inputs_ready) continue;
    auto& turns = ordered_turns_[n->id];
    if (n->ordered && (turns.empty() || turns.front() != run.formed.time)) continue;
    start_map(run, *n, now);
  }
  if (all_done && !run.computed) {
    run.computed = true;
    maybe_complete(run, now);  // may erase `run`
  }
}

void BatchExecutor::start_map(BatchRun& run, const Node& n, steady::time_point now) {
  NodeRun& nr = run.nodes[n.id];
  nr.status = NodeRun::mapping;
  nr.map_out.resize(n.edges.size());
  for (std::size_t e = 0; e < n.edges.size(); ++e) {
    std::size_t tasks = run.nodes[n.edges[e].parent->id].result.size();
    nr.map_out[e].resize(tasks);
    for (const auto& out : nr.map_out[e]) nr.pending += out.done ? 0 : 1;
  }
  // Counted before any is sent: a listener may run a task at once. Tasks
  // mapped ahead are done or still out.
  for (std::size_t e = 0; e < n.edges.size(); ++e)
    for (std::size_t i = 0; i < nr.map_out[e].size(); ++i)
      if (!nr.map_out[e][i].done && !nr.map_out[e][i].ahead)
        listener_.task_ready(map_spec(run, n, static_cast<int>(e), static_cast<int>(i)), false);
  if (nr.pending == 0) map_done(run, n, now);
}

TaskSpec BatchExecutor::map_spec(const BatchRun& run, const Node& n, int e, int i) const {
  const Dataset& input = run.nodes[n.edges[e].parent->id].result;
  TaskSpec spec;
  spec.id = TaskId{run.formed.time, n.id, Phase::map, e, i};
  spec.num_partitions = static_cast<int32_t>(input.size());
  spec.inputs = {{input[i]}};
  // Shuffle buckets stay on the worker; reduce tasks fetch them from there.
  // State partitions get theirs through the coordinator, which keeps their
  // tasks for replay.
  spec.keep_output = n.reduce_partitions() > 0 && !n.holds_partition_state();
  spec.end_of_input = run.formed.end_of_input;
  return spec;
}

TaskSpec BatchExecutor::reduce_spec(const BatchRun& run, const Node& n, int r) const {
  const NodeRun& nr = run.nodes[n.id];
  TaskSpec spec;
  spec.id = TaskId{run.formed.time, n.id, Phase::reduce, 0, r};
  spec.num_partitions = n.reduce_partitions();
  spec.attempt = nr.shuffle_attempt;
  spec.end_of_input = run.formed.end_of_input;
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

void BatchExecutor::map_done(BatchRun& run, const Node& n, steady::time_point now) {
  NodeRun& nr = run.nodes[n.id];
  int reducers = n.reduce_partitions();
  if (reducers == 0) {
    std::vector<Dataset> outputs(nr.map_out.size());
    for (std::size_t e = 0; e < nr.map_out.size(); ++e)
      for (auto& task_out : nr.map_out[e])
        for (auto& p : task_out.outputs) outputs[e].push_back(std::move(p));
    nr.map_out.clear();
    node_done(run, n, std::move(outputs), now);
    return;
  }
  nr.status = NodeRun::reducing;
  nr.reduce_out.assign(reducers, Partition{});
  nr.pending = reducers;
  for (int r = 0; r < reducers; ++r) listener_.task_ready(reduce_spec(run, n, r), n.holds_partition_state());
}

// Map outputs kept on a worker that is gone (or that a reduce task could not
// fetch): run those map tasks again; while reducing, the reduce tasks still
// missing are sent again once they are done.
void BatchExecutor::redo_map_outputs(BatchRun& run, const Node& n, const Lost& lost) {
  NodeRun& nr = run.nodes[n.id];
  std::vector<TaskSpec> again;
  for (auto [e, i] : lost) {
    MapOutput& out = nr.map_out.at(e).at(i);
    if (!out.done) continue;  // already running again
    out = MapOutput{};
    if (nr.status == NodeRun::mapping)
      ++nr.pending;
    else
      ++nr.remaps;
    again.push_back(map_spec(run, n, e, i));
  }
  if (nr.status == NodeRun::reducing) {
    ++nr.shuffle_attempt;  // fetch failures of earlier attempts are stale
    spdlog::warn("batch {}: shuffle blocks of {} map tasks of {} (node {}) were lost; running them again",
                 run.formed.time, again.size(), n.name, n.id);
    JobEvent e;
    e.kind = JobEvent::Kind::shuffle_blocks_lost;
    e.batch_time = run.formed.time;
    e.node = n.id;
    e.node_name = n.name;
    e.tasks = static_cast<int64_t>(again.size());
    listener_.event(std::move(e));
  }
  for (auto& spec : again) listener_.task_ready(std::move(spec), false);
  if (nr.status == NodeRun::reducing && nr.remaps == 0) resend_missing_reduces(run, n);
}

void BatchExecutor::resend_missing_reduces(BatchRun& run, const Node& n) {
  NodeRun& nr = run.nodes[n.id];
  for (int r = 0; r < static_cast<int>(nr.reduce_out.size()); ++r)
    if (nr.reduce_out[r].empty_handle()) listener_.task_ready(reduce_spec(run, n, r), false);
}

void BatchExecutor::lose_kept_outputs(const caf::actor_addr& host) {
  for (auto& [t, run] : batches_) {
    for (auto& n : graph().nodes) {
      NodeRun& nr = run.nodes[n->id];
      if (nr.status == NodeRun::waiting) {
        // Mapped ahead, kept there (so their input is still here): the
        // node runs those tasks again when it starts.
        for (auto& outs : nr.map_out)
          for (auto& out : outs)
            if (out.done && out.host && out.host.address() == host) out = MapOutput{};
        continue;
      }
      if (nr.status != NodeRun::mapping && nr.status != NodeRun::reducing) continue;
      Lost lost;
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

void BatchExecutor::task_finished(TaskResult& res, const caf::actor& keeper, steady::time_point now) {
  auto it = batches_.find(res.id.batch_time);
  if (it == batches_.end() || res.id.node < 0 || res.id.node >= static_cast<int32_t>(graph().nodes.size()))
    return;  // a batch already complete (a late copy of a task), or garbage
  BatchRun& run = it->second;
  const Node& n = *graph().nodes[res.id.node];
  NodeRun& nr = run.nodes[n.id];
  bool is_map = res.id.phase == Phase::map;
  // A task run twice (its worker was thought lost, or slow) reports twice:
  // the first result counts.
  // A task mapped ahead may report while its node still waits to start.
  bool ahead = is_map && nr.status == NodeRun::waiting;
  if (is_map) {
    if (!ahead && nr.status != NodeRun::mapping && nr.status != NodeRun::reducing) return;
    if (res.id.edge < 0 || res.id.edge >= static_cast<int32_t>(nr.map_out.size()) || res.id.index < 0 ||
        res.id.index >= static_cast<int32_t>(nr.map_out[res.id.edge].size()) ||
        nr.map_out[res.id.edge][res.id.index].done)
      return;
    if (ahead && !nr.map_out[res.id.edge][res.id.index].ahead) return;
  } else if (nr.status != NodeRun::reducing || res.id.index < 0 ||
             res.id.index >= static_cast<int32_t>(nr.reduce_out.size()) ||
             !nr.reduce_out[res.id.index].empty_handle()) {
    return;
  }
  if (!res.lost_maps.empty()) {  // a reduce task could not fetch its blocks
    if (res.attempt != nr.shuffle_attempt) return;  // already dealt with
    Lost lost;
    for (std::size_t k = 0; k < res.lost_maps.size() && k < res.lost_edges.size(); ++k)
      lost.emplace_back(res.lost_edges[k], res.lost_maps[k]);
    spdlog::warn("batch {}: reduce partition {} of {}: {}", res.id.batch_time, res.id.index, n.name, res.error);
    redo_map_outputs(run, n, lost);
    return;
  }
  if (!res.error.empty()) {
    std::string where = is_map ? n.edges[res.id.edge].input + " feeding " + n.name : n.name;
    listener_.failed("batch " + std::to_string(res.id.batch_time) + ": " + where + " (node " +
                     std::to_string(n.id) + ", partition " + std::to_string(res.id.index) +
                     ") failed: " + res.error);
    return;
  }
  if (is_map) {
    if (!res.kept && n.reduce_partitions() > 0 &&
        res.outputs.size() != static_cast<std::size_t>(n.reduce_partitions())) {
      listener_.failed("operator " + n.name + " wrote " + std::to_string(res.outputs.size()) +
                       " buckets, expected " + std::to_string(n.reduce_partitions()));
      return;
    }
    nr.map_out[res.id.edge][res.id.index] = MapOutput{true, std::move(res.outputs), keeper};
    release_mapped_input(run, n, res.id.index);
    if (ahead) return;  // counted when its node starts
    if (nr.status == NodeRun::mapping) {
      if (--nr.pending == 0) map_done(run, n, now);
    } else if (--nr.remaps == 0) {
      resend_missing_reduces(run, n);
    }
  } else {
    if (res.outputs.empty()) {
      listener_.failed("reduce partition " + std::to_string(res.id.index) + " of " + n.name +
                       " returned no partition");
      return;
    }
    nr.reduce_out[res.id.index] = std::move(res.outputs.front());
    if (--nr.pending == 0) {
      std::vector<Dataset> outputs{std::move(nr.reduce_out)};
      node_done(run, n, std::move(outputs), now);
    }
  }
}

// A slot mapped ahead is needed no more once every node reading it has its
// map output here: no task will read it again (outputs kept on a worker may
// have to be made again from it, so those keep it). Dropping it gives its
// read buffers back to the receiver now rather than when the batch
// completes. Other partitions go with their batch, as before: dropping
// queueStream's strings early measured slower (glibc then faulted fresh
// pages into its heap, 15 % of wordcount_bench).
void BatchExecutor::release_mapped_input(BatchRun& run, const Node& n, int i) {
  if (n.edges.size() != 1) return;
  int id = n.edges[0].parent->id;
  auto readers = ahead_sources_.find(id);
  auto slots = run.slots.find(id);
  auto at = static_cast<std::size_t>(i);
  if (readers == ahead_sources_.end() || slots == run.slots.end() || at >= slots->second) return;
  for (int r : readers->second) {
    const auto& outs = run.nodes[r].map_out;
    if (outs.empty() || outs[0].size() <= at || !outs[0][at].done || outs[0][at].host) return;
  }
  Dataset& input = run.nodes[id].result;
  if (at < input.size()) input[at] = Partition{};
}

void BatchExecutor::node_done(BatchRun& run, const Node& n, std::vector<Dataset> outputs,
                              steady::time_point now) {
  NodeRun& nr = run.nodes[n.id];
  int64_t t = run.formed.time;
  Dataset result = graph().nodes[n.id]->finish(t, std::move(outputs));
  nr.status = NodeRun::done;
  if (graph().produces_at(n, run.formed.index)) {
    if (n.is_output())
      listener_.output_ready(t, n.id, std::move(result));
    else
      nr.result = std::move(result);
  }
  if (n.ordered) {
    ordered_turns_[n.id].pop_front();
    // A later batch may have been waiting for this node's turn.
    std::vector<int64_t> others;
    for (auto& [time, other] : batches_)
      if (other.started && time != t) others.push_back(time);
    for (auto time : others)
      if (auto it = batches_.find(time); it != batches_.end()) advance(it->second, now);
  }
  if (auto it = batches_.find(t); it != batches_.end()) advance(it->second, now);  // may erase it
}

void BatchExecutor::batch_emitted(int64_t time, steady::time_point now) {
  auto it = batches_.find(time);
  if (it == batches_.end()) return;
  it->second.emitted = true;
  maybe_complete(it->second, now);
}

// A batch is complete once it is computed and its outputs were emitted
// (either may come first: a batch without active outputs is acknowledged by
// the sink before its nodes ran, and window inputs still must run).
void BatchExecutor::maybe_complete(BatchRun& run, steady::time_point now) {
  if (!run.computed || !run.emitted) return;
  CompletedBatch done;
  BatchInfo& info = done.info;
  info.batch_time_ms = run.formed.time;
  info.batch_index = run.formed.index;
  info.input_records = run.formed.records;
  info.scheduling_delay_ms = ms_between(run.formed.interval_end, run.started_at);
  info.processing_time_ms = ms_between(run.started_at, now);
  info.total_delay_ms = ms_between(run.formed.interval_end, now);
  for (const auto& node : graph().nodes) node->describe_batch(info.batch_time_ms, info);
  done.source_positions = std::move(run.formed.source_positions);
  batches_.erase(info.batch_time_ms);  // `run` dies here
  --running_;
  listener_.batch_completed(done);
}

}  // namespace trib
