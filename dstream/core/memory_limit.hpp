// How much memory this process may use: the machine's, or less where a
// cgroup (a container, a systemd slice) limits it. Defaults sized from memory
// (the receive-buffer bound takes at most a quarter) read it here, so a long
// batch interval in a small container does not plan on memory it cannot have.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace trib {

// A cgroup limit file's value in bytes; nullopt for "max" (v2), a v1
// "unlimited" (a number of 2^62 or more) or anything unreadable.
std::optional<std::size_t> parse_memory_limit(const std::string& text);

// The tightest memory limit on the cgroup at `path` and its ancestors, whose
// directories are under `root`: v2's memory.max or v1's
// memory.limit_in_bytes, whichever a directory has.
std::optional<std::size_t> cgroup_memory_limit(const std::string& root, const std::string& path);

// The machine's memory, lowered to this process's cgroup limit (v2 or v1, as
// /proc/self/cgroup names its cgroups).
std::size_t usable_memory_bytes();

}  // namespace trib
