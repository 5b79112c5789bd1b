#include "actors/source_tracker.hpp"

#include <iterator>
#include <stdexcept>

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
    std::string end = replay_end(t, id);
    if (end.empty() || !src.poll_until(t, end, d)) src.poll(t, d);
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
  if (log_) {
    BatchPositions entry;
    entry.batch_time_ms = t;
    for (int id : logged_sources_) {
      auto pos = batch.source_positions.find(id);
      if (pos == batch.source_positions.end() || pos->second.empty()) continue;
      entry.sources[id] = {last_end_[id], pos->second};
      last_end_[id] = pos->second;
    }
    if (auto replay = replays_.find(t); replay != replays_.end()) {
      // Formed again: it must hold what it held the first time.
      for (auto& [id, range] : replay->second.sources) {
        auto now = entry.sources.find(id);
        if (now == entry.sources.end() || now->second.second != range.second)
          throw std::runtime_error("source " + graph_.nodes.at(id)->name + " formed batch " + std::to_string(t) +
                                   " again up to " + (now == entry.sources.end() ? "?" : now->second.second) +
                                   ", not up to " + range.second + " as logged in " + log_->path());
      }
      replays_.erase(replay);
    } else if (!entry.sources.empty()) {
      // Before any task of the batch runs, so before any of its output.
      log_->append(entry);
    }
  }
  return batch;
}

std::map<int32_t, std::string> SourceTracker::positions() const {
  std::map<int32_t, std::string> out;
  for (auto id : graph_.sources) out[id] = source(id).position();
  return out;
}

void SourceTracker::seek(const std::map<int32_t, std::string>& positions) {
  for (auto& [id, pos] : positions)
    if (!with_receiver_.count(id)) {
      source(id).seek(pos);
      if (logged_sources_.count(id)) last_end_[id] = pos;
    }
}

void SourceTracker::log_batches(const std::string& dir, const Checkpoint* recovered) {
  for (int id : sources_)
    if (!with_receiver_.count(id) && source(id).exact_replay()) logged_sources_.insert(id);
  if (!recovered) BatchPositionsLog::discard(dir);  // a new job
  if (logged_sources_.empty()) return;
  if (recovered) {
    for (auto& b : BatchPositionsLog::read(dir)) {
      if (b.batch_time_ms <= recovered->last_batch_time_ms) {
        ++droppable_;
        continue;
      }
      for (auto it = b.sources.begin(); it != b.sources.end();)
        it = logged_sources_.count(it->first) ? std::next(it) : b.sources.erase(it);
      if (!b.sources.empty()) replays_[b.batch_time_ms] = std::move(b);
    }
    if (!replays_.empty())
      spdlog::info("batch positions log: {} batches after the checkpoint of batch {} are formed again from "
                   "their logged ranges (batches {} to {})",
                   replays_.size(), recovered->last_batch_time_ms, replays_.begin()->first,
                   replays_.rbegin()->first);
    for (int id : logged_sources_) {
      auto pos = recovered->source_positions.find(id);
      last_end_[id] = pos == recovered->source_positions.end() ? std::string() : pos->second;
    }
  } else {
    for (int id : logged_sources_) last_end_[id] = source(id).position();
  }
  log_ = std::make_unique<BatchPositionsLog>(dir);
}

std::string SourceTracker::replay_end(int64_t t, int id) const {
  auto b = replays_.find(t);
  if (b == replays_.end()) return {};
  auto s = b->second.sources.find(id);
  return s == b->second.sources.end() ? std::string() : s->second.second;
}

void SourceTracker::batches_done_through(std::optional<int64_t> time) {
  if (!log_ || !time) return;
  // Rewriting the log costs two fsyncs: only once enough entries can go.
  if (++droppable_ < 32) return;
  try {
    log_->drop_through(*time);
    droppable_ = 0;
  } catch (const std::exception& e) {
    spdlog::warn("could not drop old entries of the batch positions log: {}", e.what());
  }
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
