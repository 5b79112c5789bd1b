// A worker the coordinator gave up on (it hung past the worker timeout)
// rejoins as a new worker. CAF 0.17 names a node by machine and process id,
// so the same process cannot: the first process stays (a supervisor keeps
// its pid) and runs this program again as a child with the same arguments,
// again whenever that child is given up on in turn (at most kMaxRespawns
// times: a worker that keeps hanging, e.g. on a sick machine, must not keep
// taking state partitions only to lose them), and exits with the child's
// exit code. Signals that stop the job (SIGINT, SIGTERM) go on to the child.
#pragma once

namespace trib::cli {

// The exit code of a respawned worker given up on again.
inline constexpr int kEvictedExit = 75;
// A restarted job that would lose accepted records refuses to start
// (trib::RecoveryRefused) and exits with this code: 3.
inline constexpr int kRecoveryRefusedExit = 3;
inline constexpr int kMaxRespawns = 3;

// True in a process respawn_worker() started.
bool is_respawned_worker();

// Runs this program again (its arguments from /proc/self/cmdline) until a
// run ends other than given up on; returns that run's exit code.
int respawn_worker();

}  // namespace trib::cli
