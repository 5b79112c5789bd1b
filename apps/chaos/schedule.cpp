#include "apps/chaos/schedule.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "dstream/core/hashing.hpp"

namespace trib::chaos {
namespace {

// SplitMix64: fully specified, so a seed gives the same schedule with any
// standard library (std::uniform_int_distribution is not portable).
struct Rng {
  uint64_t state;
  uint64_t next() { return splitmix64_next(state); }
  int64_t between(int64_t lo, int64_t hi) {  // inclusive
    return hi <= lo ? lo : lo + static_cast<int64_t>(next() % static_cast<uint64_t>(hi - lo + 1));
  }
};

const std::vector<std::pair<FaultKind, const char*>> kNames = {
    {FaultKind::kill, "kill"},       {FaultKind::stop, "stop"},     {FaultKind::reset, "reset"},
    {FaultKind::partition, "partition"}, {FaultKind::oneway, "oneway"}, {FaultKind::delay, "delay"},
    {FaultKind::slow, "slow"},       {FaultKind::disk, "disk"},     {FaultKind::slow_task, "slow-task"},
    // Appended after the others: a schedule without a source draws from the
    // same list as before they existed, so old seeds keep their schedules.
    {FaultKind::source_close, "source-close"}, {FaultKind::source_hang, "source-hang"},
    {FaultKind::redis_restart, "redis-restart"},
    // Opt-in, never part of "all" (see FaultKind::wal_corrupt).
    {FaultKind::wal_corrupt, "wal-corrupt"},
};

bool needs_workers(FaultKind k) {
  return k == FaultKind::reset || k == FaultKind::partition || k == FaultKind::oneway ||
         k == FaultKind::delay || k == FaultKind::slow;
}

bool applies(FaultKind k, const ScheduleSpec& spec) {
  if (needs_workers(k)) return spec.workers > 0;
  if (k == FaultKind::source_close || k == FaultKind::source_hang) return spec.source == SourceKind::socket;
  if (k == FaultKind::redis_restart) return spec.source == SourceKind::redis;
  return true;
}

}  // namespace

const char* to_string(FaultKind kind) {
  for (auto& [k, name] : kNames)
    if (k == kind) return name;
  return "?";
}

std::vector<FaultKind> parse_kinds(const std::string& text, std::string& error) {
  std::vector<FaultKind> kinds;
  if (text == "all") {
    for (auto& [k, name] : kNames)
      if (k != FaultKind::wal_corrupt) kinds.push_back(k);
    return kinds;
  }
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    auto it = std::find_if(kNames.begin(), kNames.end(), [&](auto& p) { return item == p.second; });
    if (it == kNames.end()) {
      error = "unknown fault kind '" + item + "' (kill, stop, reset, partition, oneway, delay, slow, disk, "
              "slow-task, source-close, source-hang, redis-restart, wal-corrupt or all)";
      return {};
    }
    if (std::find(kinds.begin(), kinds.end(), it->first) == kinds.end()) kinds.push_back(it->first);
  }
  if (kinds.empty()) error = "no fault kinds given";
  return kinds;
}

std::string kinds_text(const std::vector<FaultKind>& kinds) {
  std::string out;
  for (auto k : kinds) out += (out.empty() ? "" : ",") + std::string(to_string(k));
  return out;
}

std::string target_name(int target) {
  if (target == kSource) return "source";
  return target == 0 ? "coordinator" : "worker-" + std::to_string(target);
}

std::string Fault::describe() const {
  char when[64];
  std::snprintf(when, sizeof when, "%.2f s", at_ms / 1000.0);
  std::string what = std::string(to_string(kind)) + " " + target_name(target);
  switch (kind) {
    case FaultKind::kill:
    case FaultKind::reset:
    case FaultKind::source_close:
      return what + " at " + when;
    case FaultKind::source_hang:
      return what + " at " + when + " (silent mid-line until the receiver reconnects, at most " +
             std::to_string(duration_ms) + " ms)";
    case FaultKind::redis_restart:
      return what + " at " + when + ": redis-server SIGKILLed, started again after " + std::to_string(duration_ms) +
             " ms";
    case FaultKind::stop:
    case FaultKind::partition:
    case FaultKind::oneway:
      return what + " at " + when + " for " + std::to_string(duration_ms) + " ms";
    case FaultKind::delay:
      return what + " at " + when + " for " + std::to_string(duration_ms) + " ms, +" + std::to_string(param) +
             " ms per chunk";
    case FaultKind::slow:
      return what + " at " + when + " for " + std::to_string(duration_ms) + " ms, " + std::to_string(param) +
             " bytes/s";
    default:
      return what + ": " + rule;
  }
}

std::vector<Fault> make_schedule(const ScheduleSpec& spec) {
  Rng rng{spec.seed * 0x2545f4914f6cdd1dULL + 0x1234567ULL};
  std::vector<FaultKind> kinds;
  for (auto k : spec.kinds)
    if (applies(k, spec)) kinds.push_back(k);
  std::vector<Fault> out;
  if (kinds.empty()) return out;
  int n = spec.faults > 0 ? spec.faults : std::max<int>(1, static_cast<int>(spec.duration_ms / 2000));
  int64_t lo = spec.duration_ms / 10, hi = spec.duration_ms * 7 / 10;
  int64_t max_hit = std::max<int64_t>(3, spec.batches * 2 / 3);
  for (int i = 0; i < n; ++i) {
    Fault f;
    f.id = i;
    f.kind = kinds[rng.next() % kinds.size()];
    f.at_ms = rng.between(lo, hi);
    int nodes = spec.workers + 1;
    // Tasks run on the workers when there are any.
    bool on_worker = needs_workers(f.kind) || (f.kind == FaultKind::slow_task && spec.workers > 0);
    f.target = on_worker ? static_cast<int>(rng.between(1, spec.workers)) : static_cast<int>(rng.next() % nodes);
    if (f.kind == FaultKind::wal_corrupt) f.target = 0;
    if (f.on_source()) f.target = kSource;
    switch (f.kind) {
      case FaultKind::stop: f.duration_ms = rng.between(1000, 6000); break;
      case FaultKind::partition: f.duration_ms = rng.between(1000, 5000); break;
      case FaultKind::oneway: f.duration_ms = rng.between(1000, 4000); break;
      case FaultKind::delay:
        f.duration_ms = rng.between(1000, 4000);
        f.param = rng.between(20, 400);
        break;
      case FaultKind::slow:
        f.duration_ms = rng.between(1000, 4000);
        f.param = rng.between(20, 200) * 1024;
        break;
      case FaultKind::disk: {
        static const char* rules[] = {"durable-write=enospc", "durable-fsync=eio", "durable-rename=eio",
                                      "durable-write=torn", "durable-write-before-rename=crash"};
        f.rule = std::string(rules[rng.next() % 5]) + "@" + std::to_string(rng.between(2, max_hit));
        break;
      }
      case FaultKind::slow_task:
        f.param = rng.between(200, 1500);
        f.rule = "task=delay:" + std::to_string(f.param) + "@" + std::to_string(rng.between(2, max_hit)) + "x" +
                 std::to_string(rng.between(2, 8));
        break;
      case FaultKind::wal_corrupt: {
        int64_t hit = rng.between(2, max_hit);
        // Both points are hit once per append: the same entry is corrupted,
        // written, and then the process dies before a checkpoint can cover it.
        f.rule = "wal-append=corrupt@" + std::to_string(hit) + ",wal-append-written=crash@" + std::to_string(hit);
        break;
      }
      case FaultKind::source_hang: f.duration_ms = 15000; break;  // a bound: it ends when the receiver reconnects
      case FaultKind::redis_restart: f.duration_ms = rng.between(300, 3000); break;
      default: break;
    }
    out.push_back(f);
  }
  return out;
}

std::vector<Fault> keep_only(const std::vector<Fault>& all, const std::vector<int>& keep) {
  if (keep.empty()) return all;
  std::vector<Fault> out;
  for (auto& f : all)
    if (std::find(keep.begin(), keep.end(), f.id) != keep.end()) out.push_back(f);
  return out;
}

bool parse_ids(const std::string& text, std::vector<int>& ids) {
  ids.clear();
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos) return false;
    ids.push_back(std::stoi(item));
  }
  return true;
}

std::string ids_text(const std::vector<Fault>& faults) {
  std::string out;
  for (auto& f : faults) out += (out.empty() ? "" : ",") + std::to_string(f.id);
  return out;
}

}  // namespace trib::chaos
