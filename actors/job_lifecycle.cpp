#include "actors/job_lifecycle.hpp"

namespace trib {

JobLifecycle::Tick JobLifecycle::tick(int64_t next_index) {
  if (stopping() || finished()) return Tick::ignore;
  if (past_last(next_index)) {
    // No final interval: what receivers hold stays in their logs.
    stop_ = Stop::closed;
    return Tick::last_passed;
  }
  return Tick::close;
}

bool JobLifecycle::begin_stop() {
  if (stopping() || finished()) return false;
  stop_ = Stop::stopping;
  return true;
}

void JobLifecycle::checkpoint_started() {
  if (!finished()) phase_ = Phase::checkpointing;
}

void JobLifecycle::checkpoint_written() {
  if (!finished()) phase_ = Phase::running;
}

bool JobLifecycle::drained(std::size_t forming, std::size_t in_flight) const {
  return stop_ == Stop::closed && phase_ == Phase::running && forming == 0 && in_flight == 0;
}

bool JobLifecycle::finish() {
  if (finished()) return false;
  phase_ = Phase::finished;
  return true;
}

const char* JobLifecycle::describe() const {
  if (phase_ == Phase::checkpointing) return "checkpointing";
  if (stopping()) return "stopping";
  return "running";
}

}  // namespace trib
