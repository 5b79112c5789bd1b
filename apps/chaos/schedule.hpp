// The fault schedule of a tributary-chaos run, derived only from the seed:
// the same seed, kinds, workers and duration always give the same faults,
// so any run can be replayed. A schedule may be cut down to a subset of its
// faults (by their numbers) for shrinking and for replaying a minimal one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace trib::chaos {

enum class FaultKind {
  kill,       // SIGKILL the target; the runner restarts it after restart_ms (a supervisor)
  stop,       // SIGSTOP the target for duration_ms, then SIGCONT
  reset,      // proxy: reset the target worker's connections to the coordinator
  partition,  // proxy: forward nothing either way for duration_ms
  oneway,     // proxy: forward nothing from the worker to the coordinator for duration_ms
  delay,      // proxy: add param ms of latency to every chunk for duration_ms
  slow,       // proxy: at most param bytes/s each way for duration_ms
  disk,       // in-engine fault rule `rule` armed in the target from its start
  slow_task,  // in-engine: tasks of the target sleep param ms, hits rule's range
  // Source faults (target kSource), only with a source the runner serves:
  source_close,   // the line server closes the connection after a whole line (FIN)
  source_hang,    // the line server goes silent in the middle of a line until the
                  // receiver gives up on it (its idle timeout) and reconnects
  redis_restart,  // SIGKILL the runner's redis-server; start it again after duration_ms
  // In-engine, on the coordinator (where receivers keep their write-ahead
  // logs): one entry's bytes flip after its checksum is taken (bit rot), and
  // the process is SIGKILLed as soon as that entry is on disk, so a restart
  // must read the bad entry back. Not in "all": the correct outcome usually ends the run
  // (the restart refuses to lose the entry's records, exit 3).
  wal_corrupt,
};

// The source the runner provides the job with ({socket} or {redis_port} in its command).
enum class SourceKind { none, socket, redis };

constexpr int kSource = -1;  // the target of source faults

const char* to_string(FaultKind kind);
// Parses "kill,stop,..." (or "all"); `error` names an unknown kind.
std::vector<FaultKind> parse_kinds(const std::string& text, std::string& error);
std::string kinds_text(const std::vector<FaultKind>& kinds);

struct Fault {
  int id = 0;               // its number in the full schedule
  FaultKind kind = FaultKind::kill;
  int target = 0;           // 0: the coordinator (or the single process), i: worker i
  int64_t at_ms = 0;        // from the start of the run (timed kinds)
  int64_t duration_ms = 0;  // stop, partition, oneway, delay, slow
  int64_t param = 0;        // delay: ms; slow: bytes/s; slow_task: ms
  std::string rule;         // disk, slow_task: the TRIB_FAULTS rule
  bool timed() const {
    return kind != FaultKind::disk && kind != FaultKind::slow_task && kind != FaultKind::wal_corrupt;
  }
  bool on_source() const {
    return kind == FaultKind::source_close || kind == FaultKind::source_hang || kind == FaultKind::redis_restart;
  }
  std::string describe() const;  // "kill worker-1 at 2.30 s"
};

std::string target_name(int target);

struct ScheduleSpec {
  uint64_t seed = 1;
  std::vector<FaultKind> kinds;
  int workers = 0;
  int64_t duration_ms = 10000;
  int faults = 0;              // how many (0: one per 2 s of duration, at least 1)
  int64_t batches = 100;       // of the job: bounds the hit numbers of in-engine rules
  SourceKind source = SourceKind::none;  // source kinds apply only to the matching source
};

// Faults only on targets that exist (network kinds need workers, source kinds
// the matching source); sorted by id.
std::vector<Fault> make_schedule(const ScheduleSpec& spec);

// The faults whose ids are in `keep` (all when keep is empty).
std::vector<Fault> keep_only(const std::vector<Fault>& all, const std::vector<int>& keep);

// "1,4,7" <-> {1,4,7}; empty text: empty list. false on a malformed list.
bool parse_ids(const std::string& text, std::vector<int>& ids);
std::string ids_text(const std::vector<Fault>& faults);

}  // namespace trib::chaos
