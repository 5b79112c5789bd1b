// Runs an app binary as a child process and captures its output.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace testing {

struct ProcessResult {
  int exit_code = -1;
  std::string out, err;
};

// Where the build put the app binaries (set by CTest).
inline std::string bin_dir() {
  const char* dir = std::getenv("TRIB_BIN_DIR");
  return dir ? dir : ".";
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Starts bin_dir()/program with args, stdout and stderr going to the given
// open files, and `env` ("NAME=value") added to the environment.
inline pid_t spawn_app(const std::string& program, const std::vector<std::string>& args,
                       int out_fd, int err_fd, const std::vector<std::string>& env = {}) {
  std::string path = bin_dir() + "/" + program;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    for (auto& e : env) putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> argv{const_cast<char*>(path.c_str())};
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(path.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

// Waits for the child; its exit code, or 128 + signal if a signal ended it.
inline int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Runs bin_dir()/program with args and waits for it.
inline ProcessResult run_app(const std::string& program, const std::vector<std::string>& args,
                             const std::vector<std::string>& env = {}) {
  char out_path[] = "/tmp/trib-test-out-XXXXXX";
  char err_path[] = "/tmp/trib-test-err-XXXXXX";
  int out_fd = mkstemp(out_path), err_fd = mkstemp(err_path);
  pid_t pid = spawn_app(program, args, out_fd, err_fd, env);
  ProcessResult r;
  r.exit_code = wait_exit(pid);
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  close(out_fd);
  close(err_fd);
  unlink(out_path);
  unlink(err_path);
  return r;
}

}  // namespace testing
