#include "recovery/durable_file.hpp"

#include "recovery/fault_injection.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

namespace fs = std::filesystem;

namespace trib {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw std::runtime_error(what + " " + path + ": " + std::strerror(errno));
}

void fsync_path(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) fail("cannot open", path);
  if (::fsync(fd) != 0) {
    ::close(fd);
    fail("cannot fsync", path);
  }
  ::close(fd);
}

std::string parent_of(const std::string& path) {
  auto parent = fs::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

// Fails like the system call would when a fault rule says so.
void fail_if_injected(const FaultHit& f, const char* what, const std::string& path) {
  if (f.action != FaultHit::Action::fail) return;
  errno = f.error;
  fail(what, path);
}

// `injected`: what the durable-write fault point said for this file.
void write_synced(const std::string& path, const std::string& content, const FaultHit& injected) {
  fail_if_injected(injected, "cannot write", path);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot create", path);
  const char* p = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      fail("cannot write", path);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  FaultHit fsync_fault = fault_point("durable-fsync");
  if (fsync_fault.action == FaultHit::Action::fail) errno = fsync_fault.error;
  if (fsync_fault.action == FaultHit::Action::fail || ::fsync(fd) != 0) {
    int error = errno;
    ::close(fd);
    errno = error;
    fail("cannot fsync", path);
  }
  ::close(fd);
}

}  // namespace

void write_file_synced(const std::string& path, const std::string& content) {
  write_synced(path, content, fault_point("durable-write"));
}

void write_file_durably(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  FaultHit injected = fault_point("durable-write");
  if (injected.action == FaultHit::Action::torn) {
    // What a disk that lost the tail of a renamed file leaves behind.
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0 && ::write(fd, content.data(), content.size() / 2) >= 0) ::fsync(fd);
    fault_crash_now();
  }
  try {
    write_synced(tmp, content, injected);
    crash_point("durable-write-before-rename");
    fail_if_injected(fault_point("durable-rename"), "cannot rename to", path);
    if (std::rename(tmp.c_str(), path.c_str()) != 0) fail("cannot rename to", path);
  } catch (...) {
    // A full disk must not also be left holding the half-written file.
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
  fsync_path(parent_of(path), O_RDONLY | O_DIRECTORY);
}

void sync_directory(const std::string& path) { fsync_path(path, O_RDONLY | O_DIRECTORY); }

void make_directories(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) throw std::runtime_error("cannot create directory " + path + ": " + ec.message());
}

bool commit_directory(const std::string& from, const std::string& to) {
  fsync_path(from, O_RDONLY | O_DIRECTORY);
  // renameat2(RENAME_NOREPLACE) would be ideal; rename() of a directory onto
  // a non-empty directory fails anyway, so the check below only guards the
  // common, non-racing case of a batch committed before a restart.
  if (path_exists(to)) return false;
  if (std::rename(from.c_str(), to.c_str()) != 0) fail("cannot rename to", to);
  fsync_path(parent_of(to), O_RDONLY | O_DIRECTORY);
  return true;
}

void remove_tree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
}

bool path_exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

std::string read_whole_file(const std::string& path, const std::string& noun) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw std::runtime_error(noun + " " + path + " is not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + noun + " " + path + ": " + std::strerror(errno));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error("cannot read " + noun + " " + path + ": " + std::strerror(errno));
  return data;
}

}  // namespace trib
