#include "dstream/core/memory_limit.hpp"

#include <unistd.h>

#include <cctype>
#include <fstream>
#include <sstream>

namespace trib {
namespace {

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void take_min(std::optional<std::size_t>& limit, std::optional<std::size_t> other) {
  if (other && (!limit || *other < *limit)) limit = other;
}

// The cgroup paths /proc/self/cgroup names: v2's ("0::/a/b") and v1's
// memory controller's ("4:memory:/a/b", or with other controllers).
struct CgroupPaths {
  std::optional<std::string> v2, v1_memory;
};

CgroupPaths own_cgroups() {
  CgroupPaths paths;
  std::ifstream in("/proc/self/cgroup");
  for (std::string line; std::getline(in, line);) {
    auto first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    std::string controllers = line.substr(first + 1, second - first - 1);
    std::string path = line.substr(second + 1);
    if (controllers.empty()) {
      paths.v2 = path;
      continue;
    }
    std::stringstream list(controllers);
    for (std::string c; std::getline(list, c, ',');)
      if (c == "memory") paths.v1_memory = path;
  }
  return paths;
}

}  // namespace

std::optional<std::size_t> parse_memory_limit(const std::string& text) {
  std::size_t i = 0, value = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  std::size_t digits = 0;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i, ++digits) {
    if (value > (std::size_t{1} << 62) / 10) return std::nullopt;  // "unlimited" in v1
    value = value * 10 + static_cast<std::size_t>(text[i] - '0');
  }
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  if (digits == 0 || i != text.size() || value >= (std::size_t{1} << 62)) return std::nullopt;
  return value;
}

std::optional<std::size_t> cgroup_memory_limit(const std::string& root, const std::string& path) {
  std::optional<std::size_t> limit;
  std::string dir = path;
  while (!dir.empty() && dir.back() == '/') dir.pop_back();
  for (;;) {
    for (const char* file : {"/memory.max", "/memory.limit_in_bytes"})
      if (auto text = read_file(root + dir + file)) take_min(limit, parse_memory_limit(*text));
    if (dir.empty()) break;
    std::size_t parent = dir.rfind('/');
    dir.resize(parent == std::string::npos ? 0 : parent);
  }
  return limit;
}

std::size_t usable_memory_bytes() {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  std::optional<std::size_t> limit;
  if (pages > 0 && page > 0) limit = static_cast<std::size_t>(pages) * static_cast<std::size_t>(page);
  CgroupPaths own = own_cgroups();
  if (own.v2) {
    take_min(limit, cgroup_memory_limit("/sys/fs/cgroup", *own.v2));
    take_min(limit, cgroup_memory_limit("/sys/fs/cgroup/unified", *own.v2));  // hybrid layout
  }
  if (own.v1_memory) take_min(limit, cgroup_memory_limit("/sys/fs/cgroup/memory", *own.v1_memory));
  return limit.value_or(0);
}

}  // namespace trib
