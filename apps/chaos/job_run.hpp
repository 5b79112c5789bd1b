// One run of the job under test, as tributary-chaos drives it: the
// coordinator (or single process) and its workers as child processes, each
// worker joined through its own FaultProxy; the runner acts as their
// supervisor (a process that exits before the job is done is started again
// after restart_ms) and carries out the schedule's faults at their times.
// It watches the output directory and records when each batch appeared.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/chaos/schedule.hpp"

namespace trib::chaos {

struct RunSpec {
  std::vector<std::string> command;  // with placeholders, see expand_command
  int workers = 0;
  std::string dir;                   // this run's directory (created; must not exist)
  uint64_t seed = 1;
  int64_t batches = 100;
  int64_t batch_ms = 100;
  int64_t timeout_ms = 120000;       // the job must have finished by then
  int64_t restart_ms = 300;          // supervisor's pause before starting an exited process
  std::vector<Fault> faults;         // none: the reference run
  std::vector<std::string> env;      // added to every process ("NAME=value")
  // A source the runner serves (see apps/chaos/source.hpp): source_lines
  // lines of the seed, released evenly over source_spread_ms from the start.
  SourceKind source = SourceKind::none;
  int64_t source_lines = 0, source_spread_ms = 1000;
};

// Placeholders: {role} (coordinator: --listen PORT --min-workers N
// --min-workers-wait 5; worker: --join 127.0.0.1:PROXY; single process:
// nothing), {port}, {checkpoint}, {output}, {events}, {seed}, {batches},
// {batch_ms}, {dir}, {socket} (127.0.0.1:PORT of the runner's line server),
// {redis_port} (its redis-server). `node` 0 is the coordinator, i a worker.
struct Placeholders {
  int workers = 0;
  uint16_t port = 0;
  std::vector<uint16_t> join_ports;  // per worker (index 0: worker 1)
  std::string dir;
  uint64_t seed = 1;
  int64_t batches = 0, batch_ms = 0;
  uint16_t socket_port = 0, redis_port = 0;
};
std::vector<std::string> expand_command(const std::vector<std::string>& command, const Placeholders& p, int node);

// Something that happened during a run, at t_ms from its start.
struct TimelineEvent {
  int64_t t_ms = 0;
  std::string kind;    // fault-start, fault-end, fault-fired, exit, start
  std::string target;  // coordinator, worker-N
  std::string text;
  int fault = -1;      // the fault's id, for fault-*
};

struct Publication {
  int64_t batch_time = 0;  // from the directory name
  int64_t seen_ms = 0;     // when the runner first saw it, from the run's start
  std::string path;
  // When it was renamed into place (its inode's ctime): the order of
  // publication. A poll of the directory may miss an entry renamed in while
  // it reads (readdir), so seen_ms alone cannot order close publications.
  int64_t renamed_ns = 0;
};

struct RunRecord {
  bool finished = false;     // the coordinator exited 0 (the job reached its end)
  std::string setup_error;   // could not run at all (exit 2)
  std::string failure;       // the job did not finish: why (timeout, keeps failing)
  std::string refused;       // a restart refused to recover (exit 3, loss detected): its message
  int64_t elapsed_ms = 0;
  std::vector<TimelineEvent> timeline;
  std::vector<Publication> published;  // in the order they appeared
  std::vector<int> fired;               // in-engine faults that fired (ids)
  std::string output_dir;
  std::vector<std::string> input;       // the lines a source of the runner served (source runs)
  int64_t input_served = 0;             // how many of them went out (written whole, or added to Redis)
  std::string source_error;             // the line server's protocol broke (see LineServer::error)
};

RunRecord run_job(const RunSpec& spec);

// Ends the run under way (its processes killed) and makes later runs end at
// once with setup_error "interrupted"; safe from a signal handler.
void interrupt_runs();

}  // namespace trib::chaos
