// The engine used as a library, as the bundled apps use it: SIGINT/SIGTERM
// stop a job gracefully, logs go to stderr (stdout carries the output), and
// a failing engine actor ends the job with an error awaitTermination()
// rethrows instead of a hang.
//
// The signal cases run this binary again as a child process with one test
// case (TRIB_LIBRARY_CHILD set), so the signal reaches a real program.
#define BOOST_TEST_MODULE library
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "dstream/streaming_context.hpp"
#include "job_helpers.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

namespace {

const char* child_mode() { return std::getenv("TRIB_LIBRARY_CHILD"); }

std::string self_exe() {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  BOOST_REQUIRE(n > 0);
  self[n] = '\0';
  return self;
}

struct Child {
  pid_t pid;
  std::string out_path, err_path;
};

// Starts this binary with one test case as a child, TRIB_LIBRARY_CHILD=mode.
Child start_child(const std::string& test_case, const std::string& mode, const std::string& dir) {
  Child c{-1, dir + "/out", dir + "/err"};
  std::string exe = self_exe();
  c.pid = fork();
  if (c.pid == 0) {
    freopen(c.out_path.c_str(), "w", stdout);
    freopen(c.err_path.c_str(), "w", stderr);
    setenv("TRIB_LIBRARY_CHILD", mode.c_str(), 1);
    std::string run = "--run_test=" + test_case;
    execl(exe.c_str(), exe.c_str(), run.c_str(), "--catch_system_errors=no", static_cast<char*>(nullptr));
    _exit(127);
  }
  return c;
}

// In the child: a job printing "batch <records>" for each batch until it
// is stopped; then "terminated cleanly" once awaitTermination() returned.
void run_child_job(bool stop_on_signal) {
  trib::StreamingOptions opts;
  opts.stop_on_signal = stop_on_signal;
  trib::StreamingContext ssc(std::chrono::milliseconds(50), opts);
  auto queue = std::make_shared<trib::BatchQueue<int>>();
  for (int b = 0; b < 10000; ++b) queue->push({b, b + 1, b + 2});
  ssc.queueStream(queue).foreachRDD([](const std::vector<int>& rows, int64_t) {
    std::printf("batch %zu\n", rows.size());
    std::fflush(stdout);
  });
  ssc.start();
  ssc.awaitTermination();
  std::printf("terminated cleanly\n");
  std::fflush(stdout);
}

// Runs the job child, sends it `sig` once it printed a batch; its exit code.
int signalled_child(const std::string& mode, int sig, testing::TempDir& dir) {
  Child c = start_child("child_job", mode, dir.path);
  BOOST_REQUIRE(testing::eventually(
      [&] { return testing::slurp(c.out_path).find("batch 3") != std::string::npos; }));
  ::kill(c.pid, sig);
  return testing::wait_exit(c.pid);
}

}  // namespace

BOOST_AUTO_TEST_CASE(child_job) {
  if (!child_mode()) return;  // only as a child of the cases below
  run_child_job(std::string(child_mode()) != "no-signals");
}

BOOST_AUTO_TEST_CASE(sigint_and_sigterm_stop_the_job_gracefully) {
  if (child_mode()) return;
  for (int sig : {SIGINT, SIGTERM}) {
    testing::TempDir dir;
    int code = signalled_child("signals", sig, dir);
    std::string out = testing::slurp(dir.path + "/out"), err = testing::slurp(dir.path + "/err");
    BOOST_TEST(code == 0, "signal " << sig << ": exit " << code << "\n" << err);
    BOOST_TEST(out.find("terminated cleanly") != std::string::npos, out);
    BOOST_TEST(err.find("stopping gracefully") != std::string::npos, err);
    // Logs on stderr only: stdout holds the job's output and nothing else.
    BOOST_TEST(err.find("job started") != std::string::npos, err);
    BOOST_TEST(out.find("job started") == std::string::npos, out);
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);)
      if (!line.empty() && line.rfind("Running ", 0) != 0 && line.rfind("***", 0) != 0)  // Boost.Test's own
        BOOST_TEST((line == "batch 3" || line == "terminated cleanly"), "unexpected stdout line: " << line);
  }
}

BOOST_AUTO_TEST_CASE(opting_out_leaves_the_signal_to_the_program) {
  if (child_mode()) return;
  testing::TempDir dir;
  int code = signalled_child("no-signals", SIGTERM, dir);
  BOOST_TEST(code == 128 + SIGTERM);
  BOOST_TEST(testing::slurp(dir.path + "/out").find("terminated cleanly") == std::string::npos);
}

namespace {

// A record whose serialization fails for one value: the window holding it
// cannot be checkpointed.
struct Fragile {
  int value = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    if (value == 13) throw std::runtime_error("reading 13 cannot be serialized");
    ar(value);
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_failing_engine_actor_ends_the_job_with_its_error) {
  if (child_mode()) return;
  testing::TempDir ckpt;
  trib::StreamingContext ssc(std::chrono::milliseconds(20));
  ssc.checkpoint(ckpt.path);
  auto queue = std::make_shared<trib::BatchQueue<Fragile>>();
  queue->push({Fragile{1}, Fragile{13}});
  ssc.queueStream(queue).window(std::chrono::milliseconds(100), std::chrono::milliseconds(20)).count().foreachRDD(
      [](const std::vector<int64_t>&, int64_t) {});
  ssc.start();
  std::string error;
  try {
    bool ended = ssc.awaitTerminationOrTimeout(std::chrono::seconds(60));
    BOOST_TEST(ended, "the job neither ended nor failed: a hang");
  } catch (const std::exception& e) {
    error = e.what();
  }
  BOOST_TEST(error.find("reading 13 cannot be serialized") != std::string::npos, error);
  ssc.stop(false);  // returns: the job already ended
}
