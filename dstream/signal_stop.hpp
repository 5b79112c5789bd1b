// SIGINT/SIGTERM as a graceful stop, for every running StreamingContext that
// did not opt out (StreamingOptions::stop_on_signal). The first signal asks
// each registered job to stop gracefully (everything received is processed
// first); a second one, while they drain, ends the process at once, as the
// signal would by default.
//
// The handlers are installed while at least one job is registered and the
// previous ones restored after the last leaves; the stop itself runs on a
// watcher thread, not in the signal handler.
#pragma once

#include <functional>
#include <memory>

namespace trib {

// Registers `on_signal` (called with the signal number, on the watcher
// thread); unregistered when the returned handle is destroyed.
std::shared_ptr<void> stop_on_signal(std::function<void(int)> on_signal);

}  // namespace trib
