#include "actors/source_tracker.hpp"

#include <spdlog/spdlog.h>

namespace trib {

SourceTracker::SourceTracker(const Graph& graph, std::vector<int> sources, std::set<int> with_receiver,
                             std::set<int> polled_elsewhere, bool backpressure)
    : graph_(graph),
      sources_(std::move(sources)),
      with_receiver_(std::move(with_receiver)),
      polled_elsewhere_(std::move(polled_elsewhere)) {
  if (backpressure && !with_receiver_.empty()) estimator_.emplace(graph.batch_interval_ms);
}

SourceNode& SourceTracker::source(int id) const {
  return static_cast<SourceNode&>(*graph_.nodes.at(id));
}

std::vector<int> SourceTracker::interval_closed(int64_t t, int64_t k, steady::time_point now) {
  Forming& f = forming_[t];
  f.batch.time = t;
  f.batch.index = k;
  f.batch.interval_end = now;
  std::vector<int> flush;
  for (auto id : sources_) {
    if (with_receiver_.count(id) || polled_elsewhere_.count(id)) {
      flush.push_back(id);
      continue;
    }
    Dataset d;
    SourceNode& src = source(id);
    src.poll(t, d);
    f.batch.source_positions[id] = src.position();
    for (auto& p : d) f.batch.records += static_cast<int64_t>(p.size());
    f.batch.source_data[id] = std::move(d);
  }
  f.pending = static_cast<int>(flush.size());
  return flush;
}

void SourceTracker::delivered(int64_t t, ReceivedBlock block) {
  auto it = forming_.find(t);
  if (it == forming_.end()) return;
  Forming& f = it->second;
  f.batch.records += block.records;
  if (!block.position.empty()) f.batch.source_positions[block.source_node] = block.position;
  f.batch.source_data[block.source_node] = std::move(block.partitions);
  --f.pending;
}

std::optional<FormedBatch> SourceTracker::take_formed(int64_t t) {
  auto it = forming_.find(t);
  if (it == forming_.end() || it->second.pending > 0) return std::nullopt;
  FormedBatch batch = std::move(it->second.batch);
  forming_.erase(it);
  return batch;
}

std::map<int32_t, std::string> SourceTracker::positions() const {
  std::map<int32_t, std::string> out;
  for (auto id : graph_.sources) out[id] = source(id).position();
  return out;
}

void SourceTracker::seek(const std::map<int32_t, std::string>& positions) {
  for (auto& [id, pos] : positions)
    if (!with_receiver_.count(id)) source(id).seek(pos);
}

SourceTracker::Release SourceTracker::done_up_to(const std::map<int32_t, std::string>& positions) {
  Release release;
  for (auto& [id, pos] : positions) {
    if (pos.empty()) continue;
    if (with_receiver_.count(id)) {
      release.truncate.emplace_back(id, std::stoll(pos));
      continue;
    }
    if (polled_elsewhere_.count(id)) {
      release.commit.emplace_back(id, pos);
      continue;
    }
    try {
      source(id).committed(pos);
    } catch (const std::exception& e) {
      spdlog::warn("source {} could not release input up to {}: {}", graph_.nodes.at(id)->name, pos,
                   e.what());
    }
  }
  return release;
}

std::optional<double> SourceTracker::receiver_rate(const BatchInfo& info) {
  if (!estimator_) return std::nullopt;
  auto rate = estimator_->compute(info.batch_time_ms, info.input_records, info.processing_time_ms,
                                  info.scheduling_delay_ms);
  if (!rate) return std::nullopt;
  return *rate / static_cast<double>(with_receiver_.size());
}

}  // namespace trib
