#include "actors/task_dispatcher.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace trib {

TaskDispatcher::TaskDispatcher(const Graph& graph, WorkerPool& workers, caf::actor local_host,
                               TaskOutbox& outbox, SpeculationPolicy policy, EventSink events,
                               int local_map_slots)
    : graph_(graph),
      workers_(workers),
      local_host_(std::move(local_host)),
      outbox_(outbox),
      policy_(policy),
      events_(std::move(events)),
      local_map_slots_(local_map_slots) {}

void TaskDispatcher::run(TaskSpec spec, clock::time_point now) {
  if (workers_.empty()) {
    spec.keep_output = false;  // here, outputs come back with the result
    outbox_.send_task(local_host_, std::move(spec));  // it fetches what workers keep
    return;
  }
  InFlight& f = in_flight_[spec.id];
  release_slot(f);  // a task sent again replaces its earlier record
  f.local = spec.id.phase == Phase::map && local_maps_ < local_map_slots_;
  const caf::actor& host = f.local ? local_host_ : workers_.next_not_slow(now).host;
  if (f.local) {
    ++local_maps_;
    spec.keep_output = false;  // the buckets come back with the result
  }
  f.spec = spec;
  f.sent = now;
  f.hosts = {host.address()};
  f.speculated = false;
  outbox_.send_task(host, std::move(spec));
}

void TaskDispatcher::finished(const TaskResult& result, clock::time_point now) {
  auto f = in_flight_.find(result.id);
  if (f == in_flight_.end()) return;
  task_times_.add(std::chrono::duration<double, std::milli>(now - f->second.sent).count());
  release_slot(f->second);
  in_flight_.erase(f);
}

std::size_t TaskDispatcher::lose_worker(const caf::actor_addr& host, clock::time_point now) {
  std::vector<TaskSpec> rerun;
  for (auto& [key, f] : in_flight_) {
    f.hosts.erase(std::remove(f.hosts.begin(), f.hosts.end(), host), f.hosts.end());
    if (f.hosts.empty()) rerun.push_back(f.spec);
  }
  for (auto& spec : rerun) {
    release_slot(in_flight_[spec.id]);
    in_flight_.erase(spec.id);
  }
  for (auto& spec : rerun) run(spec, now);
  return rerun.size();
}

std::size_t TaskDispatcher::on(const caf::actor_addr& host) const {
  std::size_t n = 0;
  for (auto& [key, f] : in_flight_)
    if (std::all_of(f.hosts.begin(), f.hosts.end(), [&](const auto& h) { return h == host; })) ++n;
  return n;
}

void TaskDispatcher::speculate(clock::time_point now) {
  if (!policy_.enabled) return;
  auto median = task_times_.median();
  if (!median) return;  // no idea yet what normal is
  double threshold = std::max<double>(static_cast<double>(policy_.min_ms), 4 * *median);
  for (auto& [key, f] : in_flight_) {
    double age = std::chrono::duration<double, std::milli>(now - f.sent).count();
    if (f.speculated || age < threshold) continue;
    f.speculated = true;
    if (Worker* slow = workers_.find(f.hosts.front())) slow->slow_until = now + std::chrono::seconds(5);
    // A copy on another worker, or here; the first result counts.
    Worker* other = workers_.other_than(f.hosts);
    spdlog::info("{} has run for {:.0f} ms (median {:.1f} ms): running a copy on {}",
                 describe(graph_, f.spec.id), age, *median, other ? other->label : "the coordinator");
    JobEvent e;
    e.kind = JobEvent::Kind::task_speculated;
    e.worker = other ? other->label : "the coordinator";
    e.node = f.spec.id.node;
    e.node_name = graph_.nodes[f.spec.id.node]->name;
    e.partition = f.spec.id.index;
    e.batch_time = f.spec.id.batch_time;
    events_(std::move(e));
    if (other) {
      f.hosts.push_back(other->host.address());
      outbox_.send_task(other->host, f.spec);
    } else {
      TaskSpec copy = f.spec;
      copy.keep_output = false;
      outbox_.send_task(local_host_, std::move(copy));
    }
  }
}

}  // namespace trib
