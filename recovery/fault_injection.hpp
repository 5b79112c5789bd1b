// The engine's fault points: one registry of named places where a test or
// the fault-injection runner (tributary-chaos) can make this process crash,
// stall, or see a disk fail. Rules come from the environment when the
// process starts; without any, a point costs one relaxed atomic load.
//
//   TRIB_FAULTS="RULE,RULE,..."   rules (also separated by ';' or newlines)
//   TRIB_FAULT_PLAN=FILE          more rules, one per line ('#' comments)
//   TRIB_FAULT_LOG=FILE           each rule that fires appends a line:
//                                 {"wall_ms":...,"pid":...,"point":"...","action":"..."}
//   TRIB_CRASH_AT=POINT:N         = POINT=crash@N (kept for older tests)
//   TRIB_DELAY_AT=POINT:MS        = POINT=delay:MS@1x* (every hit)
//
// RULE is POINT=ACTION[:ARG][@N][xK]: the action is taken on the N-th hit of
// the point (default 1) and the K-1 hits after it (default 1; x* for every
// hit from then on). Actions:
//   crash        SIGKILL this process (no clean-up)
//   delay:MS     sleep MS milliseconds (a slow node or task)
//   enospc, eio  the I/O at this point fails with that errno (a full or failing disk)
//   torn         (durable-write) half the file lands at its final name, then SIGKILL:
//                a disk that lost the tail of a renamed file
//   corrupt      (wal-append) one byte of the entry flips after its checksum is taken
// Points:
//   durable-write                 a file is about to be written (checkpoint, state, part file)
//   durable-fsync                 ... about to be fsynced
//   durable-rename                ... about to be renamed into place
//   durable-write-before-rename   written and synced, not yet renamed
//   wal-append                    a write-ahead-log entry is about to be appended
//   wal-append-written            ... it is written and synced (its records not yet accepted)
//   after-output                  a batch's outputs ran, its completion not yet recorded
//   interval-close                the coordinator is about to close an interval
//   task, map-task, reduce-task   a task (of that phase) is about to run
// A malformed rule is reported on stderr at start and ignored.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace trib {

struct FaultHit {
  enum class Action { none, crash, delay, fail, torn, corrupt };
  Action action = Action::none;
  int error = 0;        // fail: the errno
  int64_t delay_ms = 0;
};

// Counts a hit of `point` for every rule naming it; carries out crash and
// delay itself and returns the other actions for the caller to act on
// (none when no rule fires).
FaultHit fault_point(const char* point);

// The same, for only the delay rules (delay_point) or only the others
// (crash_point): a place may call both and each rule still counts each hit once.
void crash_point(const char* point);
void delay_point(const char* point);

// True when any rule was given: a caller may then keep work where a rule
// could stall or kill it (a task in its own actor).
bool faults_armed();
// Kills this process at once (for callers completing a torn write).
[[noreturn]] void fault_crash_now();

// Parses rules as TRIB_FAULTS spells them; malformed ones are named in
// `errors`. Exposed for the runner, which checks rules before using them.
struct FaultRule {
  std::string point;
  FaultHit hit;
  std::string action_text;  // as written, for the fault log
  int64_t first = 1;        // first hit it acts on
  int64_t count = 1;        // hits it acts on; -1: every one from `first`
};
std::vector<FaultRule> parse_fault_rules(const std::string& text, std::vector<std::string>* errors);

}  // namespace trib
