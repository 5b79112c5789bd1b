// Why a restarted job refuses to start: resuming would silently lose records
// the job had already accepted (no kept checkpoint reads back, a corrupt
// write-ahead-log entry not covered by a checkpoint, a damaged batch
// positions log). The message names each file and what is wrong with it,
// and the flag that accepts the loss where there is one. Apps exit with
// kRecoveryRefusedExit on it, so a supervisor (or tributary-chaos) can tell
// "detected and refused" from a crash.
#pragma once

#include <stdexcept>
#include <string>

namespace trib {

struct RecoveryRefused : std::runtime_error {
  explicit RecoveryRefused(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace trib
