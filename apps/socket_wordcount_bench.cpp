// End-to-end benchmark: the engine against the best single-threaded loop,
// both counting the words of the same bytes read over loopback TCP.
//
//   ./socket_wordcount_bench --lines 2000000 --runs 3 --markdown
//
// One binary, several roles (--role):
//   (none)    the orchestrator: generates the input once, then per run starts
//             a sender and a receiver (engine or loop, alternating which goes
//             first) as child processes, checks that both count the same
//             words, and prints the median run of each side.
//   generate  writes the input: lines of Zipf-distributed words (--vocabulary,
//             --zipf and --line-bytes shape them).
//   serve     sends a file to the one client that connects, then exits.
//   loop      the baseline: a tight single-threaded word count that folds
//             its table every --batch-ms like a micro-batch.
//   engine    the same word count as a Tributary job (socketTextStream).
// Receivers print one "RESULT role=... key=value ..." line on stdout.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "apps/app_main.hpp"
#include "dstream/streaming_context.hpp"
#include "dstream/core/hashing.hpp"
#include "dstream/core/text.hpp"
#include "bench/word_count_loop.hpp"
#include "io/socket_receiver.hpp"

namespace {

using namespace wordloop;
using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

double cpu_seconds(const rusage& usage) {
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// User + system CPU of this process so far, all its threads.
double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return cpu_seconds(usage);
}

// Thrown for failures a role cannot go on from; main prints it and exits 1.
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// ============================================================================
// --role generate: lines of Zipf(s) words from a fixed vocabulary; by
// default Zipf(1.0) over 10,000 words, lines of about 95 bytes.
// ============================================================================

struct TextShape {
  int64_t vocabulary = 10000;
  double zipf = 1.0;          // 0: every word equally likely
  int64_t line_bytes = 95;    // about, including the '\n'
};

// Word i: 3..10 letters (more for vocabularies over 26^3 words); the first
// ones spell i in base 26, so all differ.
std::string vocabulary_word(int64_t i, int digits) {
  uint64_t state = static_cast<uint64_t>(i) * 0x2545f4914f6cdd1dull;
  std::size_t len = static_cast<std::size_t>(digits) + trib::splitmix64_next(state) % 8;
  std::string w;
  for (int64_t d = 0, x = i; d < digits; ++d, x /= 26) w += static_cast<char>('a' + x % 26);
  while (w.size() < len) w += static_cast<char>('a' + trib::splitmix64_next(state) % 26);
  return w;
}

// Vose's alias table: one random number per sample, O(1).
class ZipfSampler {
 public:
  ZipfSampler(int n, double s) : threshold_(n), alias_(n) {
    std::vector<double> p(n);
    double sum = 0;
    for (int k = 0; k < n; ++k) sum += p[k] = 1.0 / std::pow(k + 1, s);
    std::vector<int> small, large;
    for (int k = 0; k < n; ++k) {
      p[k] = p[k] / sum * n;
      (p[k] < 1.0 ? small : large).push_back(k);
    }
    while (!small.empty() && !large.empty()) {
      int s_k = small.back(), l_k = large.back();
      small.pop_back();
      set(s_k, p[s_k], l_k);
      p[l_k] -= 1.0 - p[s_k];
      if (p[l_k] < 1.0) {
        large.pop_back();
        small.push_back(l_k);
      }
    }
    for (int k : small) set(k, 1.0, k);  // rounding leftovers
    for (int k : large) set(k, 1.0, k);
  }

  // The high 32 bits pick a column, the low 32 bits decide column or alias.
  int sample(uint64_t r) const {
    auto column = static_cast<uint32_t>(((r >> 32) * threshold_.size()) >> 32);
    return static_cast<uint32_t>(r) < threshold_[column] ? static_cast<int>(column) : alias_[column];
  }

 private:
  void set(int k, double p, int alias) {
    threshold_[k] = static_cast<uint32_t>(std::min(p * 4294967296.0, 4294967295.0));
    alias_[k] = alias;
  }
  std::vector<uint32_t> threshold_;
  std::vector<int> alias_;
};

void generate_file(const std::string& path, int64_t lines, uint64_t seed, const TextShape& shape) {
  int digits = 3;
  for (int64_t span = 26 * 26 * 26; span < shape.vocabulary; span *= 26) ++digits;
  std::vector<std::string> words;
  for (int64_t i = 0; i < shape.vocabulary; ++i) words.push_back(vocabulary_word(i, digits));
  ZipfSampler zipf(static_cast<int>(shape.vocabulary), shape.zipf);
  auto line_bytes = static_cast<std::size_t>(shape.line_bytes);
  FILE* out = std::fopen(path.c_str(), "wb");
  if (!out) throw Failure(errno_text("cannot create " + path));
  std::vector<char> buffer(1 << 22);
  std::size_t used = 0;
  uint64_t state = seed;
  for (int64_t n = 0; n < lines; ++n) {
    if (buffer.size() - used < line_bytes + 64) {
      if (std::fwrite(buffer.data(), 1, used, out) != used) throw Failure(errno_text("cannot write " + path));
      used = 0;
    }
    // Words until the line is about line_bytes long (12-13 words by default).
    std::size_t start = used;
    do {
      if (used > start) buffer[used++] = ' ';
      const auto& w = words[zipf.sample(trib::splitmix64_next(state))];
      std::memcpy(&buffer[used], w.data(), w.size());
      used += w.size();
    } while (used - start + 1 < line_bytes - 4);
    buffer[used++] = '\n';
  }
  if (std::fwrite(buffer.data(), 1, used, out) != used || std::fclose(out) != 0)
    throw Failure(errno_text("cannot write " + path));
}

// ============================================================================
// Sockets
// ============================================================================

// A socket listening on 127.0.0.1:port (0: any free port). Not close-on-exec,
// so the orchestrator can hand it to the sender it starts.
int listen_loopback(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Failure(errno_text("socket"));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 4) != 0)
    throw Failure(errno_text("cannot listen on 127.0.0.1:" + std::to_string(port)));
  return fd;
}

uint16_t local_port(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

// Connects to 127.0.0.1:port, retrying for a few seconds while the sender
// is not listening yet (when the roles are started by hand).
int connect_loopback(uint16_t port) {
  auto deadline = Clock::now() + std::chrono::seconds(10);
  for (;;) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw Failure(errno_text("socket"));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) return fd;
    int err = errno;
    close(fd);
    if (err != ECONNREFUSED || Clock::now() > deadline)
      throw Failure("cannot connect to 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(err));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw Failure(errno_text("send failed"));
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

// ============================================================================
// --role serve: send one file to one client, at full speed or paced.
// ============================================================================

// Full speed: the kernel copies file pages straight into the socket.
void send_full_speed(int conn, int file, std::size_t size) {
  off_t offset = 0;
  while (static_cast<std::size_t>(offset) < size) {
    ssize_t n = sendfile(conn, file, &offset, size - static_cast<std::size_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Failure(errno_text("sendfile failed"));
  }
}

// Paced: every ~1 ms, the whole lines due by then, so the offered load is
// steady rather than bursty. A receiver that falls behind gets the backlog
// as fast as it reads (the writes block).
void send_paced(int conn, const char* data, std::size_t size, double lines_per_s) {
  auto start = Clock::now();
  std::size_t pos = 0;
  int64_t sent_lines = 0;
  for (int64_t slice = 1; pos < size; ++slice) {
    auto due = static_cast<int64_t>(lines_per_s * seconds_between(start, Clock::now()));
    std::size_t end = pos;
    for (; sent_lines < due && end < size; ++sent_lines) {
      auto nl = static_cast<const char*>(std::memchr(data + end, '\n', size - end));
      end = nl ? static_cast<std::size_t>(nl - data) + 1 : size;
    }
    write_all(conn, data + pos, end - pos);
    pos = end;
    std::this_thread::sleep_until(start + std::chrono::milliseconds(slice));
  }
}

void serve(const std::string& path, int listener, double lines_per_s) {
  int file = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (file < 0) throw Failure(errno_text("cannot open " + path));
  struct stat st{};
  fstat(file, &st);
  auto size = static_cast<std::size_t>(st.st_size);
  int conn = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (conn < 0) throw Failure(errno_text("accept failed"));
  close(listener);  // one client only: later connection attempts are refused
  if (lines_per_s <= 0) {
    send_full_speed(conn, file, size);
  } else if (size > 0) {
    void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, file, 0);
    if (map == MAP_FAILED) throw Failure(errno_text("cannot map " + path));
    madvise(map, size, MADV_SEQUENTIAL);
    send_paced(conn, static_cast<const char*>(map), size, lines_per_s);
    munmap(map, size);
  }
  shutdown(conn, SHUT_WR);
  close(conn);
  close(file);
}

// ============================================================================
// --role loop: the single-threaded baseline.
// ============================================================================


struct LoopResult {
  uint64_t lines = 0, words = 0, checksum = 0;  // words: the sum of the folded counts
  double seconds = 0, cpu_seconds = 0;         // from the first byte to the last fold
};

// read_bytes: how much one read() asks for. Big reads pay: the loop keeps
// its socket full, and each read lets the sender send again; with reads of
// 4 MiB rather than 256 KiB the kernel's TCP work falls to the sender's
// side of the loopback (its core, otherwise idle) and the loop's core keeps
// its caches for the count (perf over 10 M lines: the loop's own samples
// 2,775 against 4,379). Paired runs over 2 M lines: 1 MiB against 256 KiB
// 10 of 10 faster (medians 10.3 -> 12.4 M lines/s), 4 MiB against 1 MiB 6
// of 8 (+11 %); over 10 M lines 4 MiB against 2 MiB 5 of 6 (15.0 -> 15.9 M)
// and 8 MiB level with 4; 4 MiB against 256 KiB faster or level on 16-byte
// lines, a million-word and a 100,000-word text.
LoopResult run_loop(uint16_t port, int64_t batch_ms, std::size_t read_bytes) {
  constexpr std::size_t kSlack = 64;
  std::vector<char> buffer(read_bytes + kSlack);
  WordTable table;
  LoopResult r;
  uint64_t batch_words = 0;  // since the last fold
  uint64_t scanned_words = 0;
  std::size_t carried = 0;   // the unfinished word kept from the last read
  char last_byte = '\n';
  int fd = connect_loopback(port);
  Clock::time_point first_byte, next_fold;
  double cpu_at_first_byte = 0;
  auto fold = [&] {
    table.fold(r.words, r.checksum);
    batch_words = 0;
  };
  for (bool started = false;;) {
    if (carried + read_bytes / 2 > buffer.size() - kSlack) buffer.resize(2 * buffer.size());  // a huge word
    ssize_t got = read(fd, buffer.data() + carried, buffer.size() - kSlack - carried);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw Failure(errno_text("read failed"));
    auto now = Clock::now();
    if (!started && got > 0) {
      started = true;
      first_byte = now;
      cpu_at_first_byte = process_cpu_seconds();
      next_fold = now + std::chrono::milliseconds(batch_ms);
    }
    if (got == 0) {  // EOF: the last word ends here, and a last unterminated line counts
      if (carried > 0) count_chunk(buffer.data(), carried, table, r.lines, scanned_words);
      if (last_byte != '\n') ++r.lines;
      fold();
      break;
    }
    std::size_t size = carried + static_cast<std::size_t>(got);
    last_byte = buffer[size - 1];
    // Count up to the last whitespace; the word after it may continue.
    std::size_t cut = size;
    while (cut > 0 && !trib::is_space(buffer[cut - 1])) --cut;
    uint64_t words_before = scanned_words;
    count_chunk(buffer.data(), cut, table, r.lines, scanned_words);
    batch_words += scanned_words - words_before;
    carried = size - cut;
    std::memmove(buffer.data(), buffer.data() + cut, carried);
    // A micro-batch ends: checked once per read, i.e. well under 1 ms apart.
    if (now >= next_fold || batch_words > (1u << 31)) {
      fold();
      while (next_fold <= now) next_fold += std::chrono::milliseconds(batch_ms);
    }
  }
  r.seconds = r.lines > 0 ? seconds_between(first_byte, Clock::now()) : 0;
  r.cpu_seconds = r.lines > 0 ? process_cpu_seconds() - cpu_at_first_byte : 0;
  close(fd);
  if (r.words != scanned_words)
    throw Failure("loop: folded " + std::to_string(r.words) + " words but found " + std::to_string(scanned_words));
  return r;
}

// ============================================================================
// --role engine: the same word count as a Tributary job.
// ============================================================================

struct EngineTotals {
  std::atomic<uint64_t> words{0}, checksum{0};
};

// The job under test. Generic in the record type so that it compiles whether
// lines are std::string or trib::Text.
template <class Lines>
void declare_wordcount(const Lines& lines, std::shared_ptr<EngineTotals> totals) {
  lines.flatMap(trib::split_words)
      .map([](const auto& w) { return std::pair<std::decay_t<decltype(w)>, int64_t>(w, 1); })
      .reduceByKey(std::plus<int64_t>())
      .foreachRDD([totals](const auto& counts, int64_t) {
        uint64_t words = 0, checksum = 0;
        for (const auto& kv : counts) {
          words += static_cast<uint64_t>(kv.second);
          // data() and size(): both std::string and trib::Text have them.
          checksum += static_cast<uint64_t>(kv.second) * word_hash({kv.first.data(), kv.first.size()});
        }
        totals->words += words;
        totals->checksum += checksum;
      });
}

// Nearest-rank percentile; 0 for no values.
double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

// Batches reported by the engine, until `expected` lines were processed.
struct Progress {
  std::mutex mutex;
  std::condition_variable changed;
  int64_t lines = 0;
  std::vector<trib::BatchInfo> batches;  // with input only
  std::optional<Clock::time_point> done;  // when the batch with the last line completed
  double done_cpu_seconds = 0;            // the process's CPU then
};

// The clock starts when the receiver has the first lines: the loop's "first
// byte" up to one read. Polled finely so the engine is not charged extra.
Clock::time_point wait_for_first_line(trib::StreamingContext& ssc, Clock::time_point deadline) {
  while (ssc.receivedRecords() == 0) {
    if (Clock::now() > deadline) throw Failure("no line received within the timeout");
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return Clock::now();
}

void wait_until_processed(trib::StreamingContext& ssc, Progress& progress, int64_t expected,
                          Clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(progress.mutex);
  while (!progress.done) {
    if (progress.changed.wait_for(lock, std::chrono::milliseconds(100)) == std::cv_status::no_timeout) continue;
    if (Clock::now() > deadline)
      throw Failure("timed out: " + std::to_string(progress.lines) + " of " + std::to_string(expected) +
                    " lines in completed batches, " + std::to_string(ssc.receivedRecords()) + " received");
    lock.unlock();
    bool ended = ssc.awaitTerminationOrTimeout(std::chrono::milliseconds(0));  // rethrows the job's error
    lock.lock();
    // A job over a source that ends at the close ends by itself, after its
    // last batch was reported.
    if (ended && !progress.done) throw Failure("the job stopped before all lines were processed");
  }
}

void print_engine_result(const Progress& progress, const EngineTotals& totals, Clock::time_point start,
                         double start_cpu_seconds, int64_t batch_ms) {
  std::vector<double> proc, delay;
  int64_t late = 0;
  // The first line's wall time, as batch times are wall times.
  double start_wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count() -
      std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  for (const auto& b : progress.batches) {
    spdlog::debug("batch {}: {} lines, ended {:.1f} ms after the first line, scheduling delay {:.1f} ms, "
                  "processing {:.1f} ms",
                  b.batch_index, b.input_records, static_cast<double>(b.batch_time_ms) - start_wall_ms,
                  b.scheduling_delay_ms, b.processing_time_ms);
    proc.push_back(b.processing_time_ms);
    delay.push_back(b.total_delay_ms);
    late += b.processing_time_ms > static_cast<double>(batch_ms);
  }
  double seconds = seconds_between(start, *progress.done);
  std::printf("RESULT role=engine lines=%" PRId64 " words=%" PRIu64 " checksum=%" PRIu64 " seconds=%.4f "
              "lines_per_s=%.0f batches=%zu proc_p50_ms=%.1f proc_p99_ms=%.1f delay_p50_ms=%.1f "
              "delay_p99_ms=%.1f late_batches=%" PRId64 " rss_mb=%.1f cpu_s=%.3f\n",
              progress.lines, totals.words.load(), totals.checksum.load(), seconds,
              static_cast<double>(progress.lines) / seconds, proc.size(), percentile(proc, 50),
              percentile(proc, 99), percentile(delay, 50), percentile(delay, 99), late, peak_rss_mb(),
              progress.done_cpu_seconds - start_cpu_seconds);
  std::fflush(stdout);
}

// Ends the process if it still runs after `limit`: a stuck engine must fail
// the run, not hang the benchmark.
void exit_if_stuck(std::chrono::seconds limit, std::string what) {
  std::thread([limit, what] {
    std::this_thread::sleep_for(limit);
    spdlog::error("engine: {} took over {} s; exiting", what, limit.count());
    std::fflush(nullptr);
    _exit(1);
  }).detach();
}

// options: what the app's shared flags set (AppMain::apply).
// reconnect: the source reconnects when the sender closes (socketTextStream's
// default), so the last batch closes at its interval's end; otherwise the
// close ends the input and the last batch closes then, as the loop's last
// fold does (SocketOptions::end_at_close).
int run_engine(uint16_t port, int64_t batch_ms, int64_t expected, int64_t partitions, int64_t timeout_s,
               bool reconnect, trib::StreamingOptions options) {
  options.partitions = static_cast<int>(partitions);
  trib::StreamingContext ssc(std::chrono::milliseconds(batch_ms), options);
  trib::SocketOptions socket;
  socket.end_at_close = !reconnect;
  auto lines = ssc.socketTextStream("127.0.0.1", port, socket);
  auto totals = std::make_shared<EngineTotals>();
  declare_wordcount(lines, totals);
  auto progress = std::make_shared<Progress>();
  ssc.addBatchListener([progress, expected](const trib::BatchInfo& b) {
    std::lock_guard<std::mutex> lock(progress->mutex);
    if (b.input_records == 0) return;
    progress->lines += b.input_records;
    progress->batches.push_back(b);
    if (progress->lines >= expected && !progress->done) {
      progress->done = Clock::now();
      progress->done_cpu_seconds = process_cpu_seconds();
    }
    progress->changed.notify_all();
  });
  try {
    ssc.start();
    auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
    Clock::time_point start = wait_for_first_line(ssc, deadline);
    double start_cpu = process_cpu_seconds();
    wait_until_processed(ssc, *progress, expected, deadline);
    std::lock_guard<std::mutex> lock(progress->mutex);
    print_engine_result(*progress, *totals, start, start_cpu, batch_ms);
  } catch (const std::exception& e) {
    // Not through ~StreamingContext: it may wait on the very job that is stuck.
    spdlog::error("engine: {}", e.what());
    std::fflush(nullptr);
    _exit(1);
  }
  exit_if_stuck(std::chrono::seconds(30), "the graceful stop");
  ssc.stop(true);
  return 0;
}

// ============================================================================
// The orchestrator
// ============================================================================

using Fields = std::map<std::string, std::string>;

// "RESULT k=v k=v ..." -> {k: v}.
Fields parse_result(const std::string& line) {
  Fields fields;
  std::istringstream in(line);
  for (std::string item; in >> item;)
    if (auto eq = item.find('='); eq != std::string::npos) fields[item.substr(0, eq)] = item.substr(eq + 1);
  return fields;
}

double number(const Fields& f, const std::string& key) {
  auto it = f.find(key);
  return it == f.end() ? 0 : std::atof(it->second.c_str());
}

std::string text(const Fields& f, const std::string& key) {
  auto it = f.find(key);
  return it == f.end() ? "" : it->second;
}

std::string fixed(double x, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, x);
  return buf;
}

// Set by SIGINT/SIGTERM in the orchestrator: it then stops its children and
// removes its temporary file on the way out.
volatile sig_atomic_t g_interrupted = 0;

void on_interrupt(int) { g_interrupted = 1; }

void install_interrupt_handlers() {
  struct sigaction action{};
  action.sa_handler = on_interrupt;  // no SA_RESTART: poll() returns early
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

// A child process: this binary in another role.
class Child {
 public:
  // Starts /proc/self/exe with `args`; its stdout piped to us if `capture`,
  // stderr shared. It inherits only 0-2 and descriptors opened without
  // close-on-exec (the sender's listening socket).
  Child(const std::vector<std::string>& args, bool capture) {
    int pipe_fds[2] = {-1, -1};
    if (capture && pipe2(pipe_fds, O_CLOEXEC) != 0) throw Failure(errno_text("pipe"));
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::fflush(nullptr);  // or the child would repeat our buffered output
    pid_ = fork();
    if (pid_ < 0) throw Failure(errno_text("fork"));
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // no orphans if the orchestrator is killed
      if (capture) dup2(pipe_fds[1], STDOUT_FILENO);
      execv("/proc/self/exe", argv.data());
      std::fprintf(stderr, "error: cannot run /proc/self/exe: %s\n", std::strerror(errno));
      _exit(127);
    }
    if (capture) close(pipe_fds[1]);
    out_ = pipe_fds[0];
  }
  ~Child() {
    if (!status_) kill_now();
    if (out_ >= 0) close(out_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Reads what its stdout has within `wait_ms`; false once it is closed.
  bool read_output(int wait_ms) {
    if (out_ < 0) return false;
    pollfd p{out_, POLLIN, 0};
    if (poll(&p, 1, wait_ms) <= 0) return true;
    char buf[4096];
    ssize_t n = read(out_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) return true;
    if (n > 0) {
      output_.append(buf, static_cast<std::size_t>(n));
      return true;
    }
    close(out_);
    out_ = -1;
    return false;
  }

  // Its wait status once it exited, without blocking.
  std::optional<int> exited() {
    int status = 0;
    if (!status_ && wait4(pid_, &status, WNOHANG, &usage_) == pid_) status_ = status;
    return status_;
  }

  // Its user + system CPU, once it exited.
  double cpu_seconds() const { return ::cpu_seconds(usage_); }

  bool failed() { return exited() && *status_ != 0; }

  void kill_now() {
    if (exited()) return;
    kill(pid_, SIGKILL);
    int status = 0;
    wait4(pid_, &status, 0, &usage_);
    status_ = status;
  }

  // True if it exited by the deadline; else kills it.
  bool wait_until(Clock::time_point deadline) {
    while (!exited()) {
      if (Clock::now() > deadline) {
        kill_now();
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }

  std::string describe_exit() const {
    if (!status_) return "is still running";
    int s = *status_;
    if (WIFEXITED(s)) return "exited with status " + std::to_string(WEXITSTATUS(s));
    if (WIFSIGNALED(s)) return std::string("was killed by ") + strsignal(WTERMSIG(s));
    return "ended oddly";
  }

  const std::string& output() const { return output_; }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string output_;
  std::optional<int> status_;
  rusage usage_{};
};

// The RESULT line of a receiver's stdout; its other lines go to stderr.
std::string result_line(const std::string& output) {
  std::string result;
  for (std::size_t pos = 0; pos < output.size();) {
    std::size_t end = std::min(output.find('\n', pos), output.size());
    std::string line = output.substr(pos, end - pos);
    if (line.rfind("RESULT ", 0) == 0) result = line;
    else if (!line.empty()) std::fprintf(stderr, "%s\n", line.c_str());
    pos = end + 1;
  }
  return result;
}

struct BenchConfig {
  std::string file;
  int64_t lines = 0, batch_ms = 100, partitions = 0, timeout_s = 300;
  double rate = 0;
  std::string child_log_level = "error";
  TextShape shape;  // of the text generated when there is no file
  bool generated = false;
  bool reconnect = false;  // the engine's source reconnects at the close
  int64_t loop_read_kib = 4096;  // the loop's read size
  // The engine's --receive-buffer-mb and --map-ahead-slots, passed on to it.
  int64_t receive_buffer_mb = -1, map_ahead_slots = -1;
};

// One receiver run: a fresh sender on a free port, then `role` reading it.
Fields run_side(const std::string& role, const BenchConfig& cfg) {
  int listener = listen_loopback(0);
  std::string port = std::to_string(local_port(listener));
  Child sender({"socket_wordcount_bench", "--role", "serve", "--file", cfg.file, "--listen-fd",
                std::to_string(listener), "--rate", std::to_string(cfg.rate), "--log-level",
                cfg.child_log_level},
               false);
  close(listener);  // the sender has it; once it accepted, reconnects are refused
  std::vector<std::string> args = {"socket_wordcount_bench", "--role", role, "--port", port,
                                   "--batch-ms", std::to_string(cfg.batch_ms), "--log-level",
                                   cfg.child_log_level};
  if (role == "engine")
    args.insert(args.end(), {"--lines", std::to_string(cfg.lines), "--partitions",
                             std::to_string(cfg.partitions), "--timeout", std::to_string(cfg.timeout_s),
                             "--receive-buffer-mb", std::to_string(cfg.receive_buffer_mb), "--map-ahead-slots",
                             std::to_string(cfg.map_ahead_slots)});
  if (role == "engine" && cfg.reconnect) args.push_back("--reconnect");
  if (role == "loop") args.insert(args.end(), {"--loop-read-kib", std::to_string(cfg.loop_read_kib)});
  Child receiver(args, true);
  // Until the receiver is done; a sender that fails ends the run at once,
  // rather than leaving the receiver to wait for its timeout.
  auto deadline = Clock::now() + std::chrono::seconds(cfg.timeout_s + 30);
  for (;;) {
    bool open = receiver.read_output(50);
    if (!open && receiver.exited()) break;
    if (!open) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (g_interrupted) throw Failure("interrupted");
    if (sender.failed()) throw Failure("the sender " + sender.describe_exit());
    if (Clock::now() > deadline) throw Failure(role + " did not finish in " + std::to_string(cfg.timeout_s + 30) + " s");
  }
  if (receiver.failed()) throw Failure(role + " " + receiver.describe_exit());
  if (!sender.wait_until(Clock::now() + std::chrono::seconds(10)) || sender.failed())
    throw Failure("the sender " + sender.describe_exit());
  std::string line = result_line(receiver.output());
  if (line.empty()) throw Failure(role + " printed no RESULT line");
  Fields result = parse_result(line);
  result["sender_cpu_s"] = fixed(sender.cpu_seconds(), 3);
  return result;
}

int64_t count_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Failure("cannot read " + path);
  std::vector<char> buf(1 << 20);
  int64_t lines = 0;
  char last = '\n';
  while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0) {
    auto n = static_cast<std::size_t>(in.gcount());
    lines += std::count(buf.data(), buf.data() + n, '\n');
    last = buf[n - 1];
  }
  return lines + (last != '\n');
}

// The 1-minute load average: whether something else ran during the benchmark.
std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one;
  in >> one;
  return one.empty() ? "unknown" : one;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

// The run with the median throughput (the lower one of two middles).
const Fields& median_run(const std::vector<Fields>& runs) {
  std::vector<const Fields*> sorted;
  for (const auto& r : runs) sorted.push_back(&r);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) {
    return number(*a, "lines_per_s") < number(*b, "lines_per_s");
  });
  return *sorted[(sorted.size() - 1) / 2];
}

// Both sides must have read every line and counted the same words.
void check_counts(const Fields& loop, const Fields& engine, int64_t expected_lines) {
  for (const auto* side : {&loop, &engine}) {
    if (static_cast<int64_t>(number(*side, "lines")) != expected_lines)
      throw Failure(text(*side, "role") + " counted " + text(*side, "lines") + " lines, the file has " +
                    std::to_string(expected_lines));
  }
  if (text(loop, "words").empty() || text(loop, "words") != text(engine, "words"))
    throw Failure("WORD TOTALS DIFFER: loop " + text(loop, "words") + ", engine " + text(engine, "words"));
  if (text(loop, "checksum") != text(engine, "checksum"))
    throw Failure("PER-WORD COUNTS DIFFER (same total " + text(loop, "words") + "): checksum loop " +
                  text(loop, "checksum") + ", engine " + text(engine, "checksum"));
}

std::string millions(double x) { return fixed(x / 1e6, 3) + " M"; }

// Every run's lines/s, in run order: the spread says how steady the machine was.
std::string every_run(const std::vector<Fields>& runs) {
  std::string out;
  for (const auto& r : runs) out += (out.empty() ? "" : ", ") + fixed(number(r, "lines_per_s") / 1e6, 2);
  return out;
}

// A receiver's user + system CPU over its measured seconds, and how many
// cores that kept busy on average.
std::string cpu_and_cores(const Fields& run) {
  double cpu = number(run, "cpu_s"), seconds = number(run, "seconds");
  return fixed(cpu, 3) + " (" + fixed(seconds > 0 ? cpu / seconds : 0, 2) + ")";
}

// Lines counted per second of the receiver's CPU: the work per core, which
// two cores cannot make up for.
std::string per_cpu_second(const Fields& run) {
  double cpu = number(run, "cpu_s");
  return cpu > 0 ? fixed(number(run, "lines") / cpu / 1e6, 2) : "-";
}

void print_table(const BenchConfig& cfg, const std::vector<Fields>& loops, const std::vector<Fields>& engines,
                 const std::string& load_before, bool markdown) {
  const Fields &loop = median_run(loops), &engine = median_run(engines);
  auto runs = static_cast<int64_t>(loops.size());
  double ratio = number(engine, "lines_per_s") / number(loop, "lines_per_s");
  auto pair_ms = [&](const char* p50, const char* p99) {
    return fixed(number(engine, p50), 1) + " / " + fixed(number(engine, p99), 1);
  };
  std::vector<std::array<std::string, 3>> rows = {
      {"lines/s", millions(number(loop, "lines_per_s")), millions(number(engine, "lines_per_s"))},
      {"engine / loop", "", fixed(ratio, 3) + "x"},
      {"M lines/s of every run", every_run(loops), every_run(engines)},
      {"seconds", fixed(number(loop, "seconds"), 3), fixed(number(engine, "seconds"), 3)},
      {"words", text(loop, "words"), text(engine, "words")},
      {"processing p50 / p99 ms", "-", pair_ms("proc_p50_ms", "proc_p99_ms")},
      {"total delay p50 / p99 ms", "-", pair_ms("delay_p50_ms", "delay_p99_ms")},
      {"late batches (of non-empty)", "-", text(engine, "late_batches") + " / " + text(engine, "batches")},
      {"peak RSS MB", fixed(number(loop, "rss_mb"), 1), fixed(number(engine, "rss_mb"), 1)},
      {"CPU s over those seconds (cores busy)", cpu_and_cores(loop), cpu_and_cores(engine)},
      {"M lines per CPU-second", per_cpu_second(loop), per_cpu_second(engine)},
      {"its sender's CPU s", fixed(number(loop, "sender_cpu_s"), 3), fixed(number(engine, "sender_cpu_s"), 3)},
  };
  std::error_code ec;
  auto bytes = std::filesystem::file_size(cfg.file, ec);
  std::printf("\nsocket word count: %" PRId64 " lines (%.1f MB) over loopback TCP, %" PRId64
              " ms batches, %s, %s partitions, median of %" PRId64 " runs\n",
              cfg.lines, static_cast<double>(bytes) / 1e6, cfg.batch_ms,
              cfg.rate > 0 ? ("sender paced at " + fixed(cfg.rate, 0) + " lines/s").c_str() : "sender at full speed",
              cfg.partitions > 0 ? std::to_string(cfg.partitions).c_str() : "auto", runs);
  if (cfg.generated)
    std::printf("text: Zipf(%.2f) words from a %" PRId64 "-word vocabulary, lines of about %" PRId64 " bytes\n",
                cfg.shape.zipf, cfg.shape.vocabulary, cfg.shape.line_bytes);
  std::printf("machine: %u cores, %s; load average %s before, %s after\n\n", std::thread::hardware_concurrency(),
              cpu_model().c_str(), load_before.c_str(), load_average().c_str());
  if (markdown) {
    std::printf("| | single-threaded loop | engine |\n|---|---:|---:|\n");
    for (const auto& r : rows) std::printf("| %s | %s | %s |\n", r[0].c_str(), r[1].c_str(), r[2].c_str());
  } else {
    std::printf("%-30s %20s %20s\n", "", "single-threaded loop", "engine");
    for (const auto& r : rows) std::printf("%-30s %20s %20s\n", r[0].c_str(), r[1].c_str(), r[2].c_str());
  }
  std::printf("\nseconds: loop from its first byte to EOF and its last fold; engine from its first received\n"
              "line to the completion of the batch holding the last line%s",
              cfg.reconnect ? ", whose interval closes on time\n(--reconnect: up to one interval after EOF).\n"
                            : "; its source ends at the\nsender's close (?end-at-close), which closes that batch's "
                              "interval, as the loop folds at EOF.\n");
  std::printf("CPU s: user + system, as the kernel charges it (by scheduler tick: coarse over a short run),\n"
              "of the receiver over those seconds and of its sender, on the same cores, over its whole run.\n");
}

int orchestrate(BenchConfig cfg, int64_t runs, uint64_t seed, bool markdown) {
  struct TempDir {  // removed however we leave
    std::optional<std::filesystem::path> path;
    ~TempDir() {
      std::error_code ec;
      if (path) std::filesystem::remove_all(*path, ec);
    }
  } temp;
  std::string load_before = load_average();
  install_interrupt_handlers();
  if (cfg.file.empty()) {
    char pattern[] = "/tmp/socket_wordcount_bench.XXXXXX";
    if (!mkdtemp(pattern)) throw Failure(errno_text("mkdtemp"));
    temp.path = pattern;
    cfg.file = (*temp.path / "lines.txt").string();
    cfg.generated = true;
    spdlog::info("generating {} lines into {}", cfg.lines, cfg.file);
    generate_file(cfg.file, cfg.lines, seed, cfg.shape);
  } else {
    cfg.lines = count_lines(cfg.file);
  }

  std::vector<Fields> loops, engines;
  for (int64_t run = 0; run < runs; ++run) {
    // Alternate the order so neither side always runs on a warmer machine.
    for (const char* role : run % 2 == 0 ? std::array{"engine", "loop"} : std::array{"loop", "engine"}) {
      Fields r = run_side(role, cfg);
      spdlog::info("run {}/{} {}: {:.0f} lines/s in {} s", run + 1, runs, role, number(r, "lines_per_s"),
                   text(r, "seconds"));
      (std::string(role) == "loop" ? loops : engines).push_back(r);
    }
    check_counts(loops.back(), engines.back(), cfg.lines);
    if (loops.back().at("words") != loops.front().at("words")) throw Failure("the loop's word totals vary between runs");
  }
  print_table(cfg, loops, engines, load_before, markdown);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string role, file, out, child_log_level = "error";
  int64_t lines = 2'000'000, seed = 1, port = 0, listen_fd = -1, batch_ms = 100, partitions = 0,
          runs = 3, timeout = 300, loop_read_kib = 4096;
  double rate = 0;
  bool markdown = false, reconnect = false;
  TextShape shape;
  trib::cli::AppMain app(
      "socket_wordcount_bench",
      "Word count over loopback TCP: the engine (socketTextStream) against the best single-threaded\n"
      "loop, on the same generated text. Without --role: runs both --runs times and prints the\n"
      "median run of each, checking that both counted the same words.");
  app.flags()
      .add("role", &role, "internal: generate, serve, loop or engine (empty: the orchestrator)")
      .add("lines", &lines, "lines to generate (orchestrator, generate); lines to wait for (engine)")
      .add("batch-ms", &batch_ms, "batch interval (engine) and fold interval (loop), ms")
      .add("rate", &rate, "sender pace in lines/s (0: full speed)")
      .add("runs", &runs, "orchestrator: runs of each side; the median is reported")
      .add("partitions", &partitions, "engine: partitions per batch and shuffle (0: one per core)")
      .add("loop-read-kib", &loop_read_kib,
           "loop: KiB one read() asks for (4096 was the fastest of 256 KiB to 8 MiB on the benchmark's VM)")
      .add_switch("markdown", &markdown, "orchestrator: print the result as a markdown table")
      .add("file", &file, "orchestrator: reuse this input instead of generating one; serve: file to send")
      .add("out", &out, "generate: file to write")
      .add("seed", &seed, "generate: random seed")
      .add("vocabulary", &shape.vocabulary, "generate: distinct words to draw from (1..10000000)")
      .add("zipf", &shape.zipf, "generate: Zipf exponent of the word frequencies (0: uniform)")
      .add("line-bytes", &shape.line_bytes, "generate: about how long a line is, with its newline (8..4096)")
      .add("port", &port, "serve: port to listen on; loop, engine: port to read from")
      .add("listen-fd", &listen_fd, "serve: an already listening socket to use instead of --port")
      .add("timeout", &timeout, "seconds a receiver may take before the run fails")
      .add_switch("reconnect", &reconnect,
                  "engine: the source reconnects when the sender closes (socketTextStream's default), so "
                  "the last batch closes at its interval's end; without it the close ends the input "
                  "(?end-at-close) and the last batch closes then, as the loop's last fold does");
  app.add_log_level()
      .add("child-log-level", &child_log_level,
           "orchestrator: --log-level of the sender and receivers (warn shows the engine's "
           "expected reconnect warnings once the sender closed)");
  if (int code = app.parse(argc, argv); code >= 0) return code;
  auto usage_error = [&](const std::string& what) { return app.usage_error(what); };
  if (spdlog::level::from_str(child_log_level) == spdlog::level::off && child_log_level != "off")
    return usage_error("unknown --child-log-level '" + child_log_level + "'");
  if (batch_ms <= 0) return usage_error("--batch-ms must be positive");
  if (lines <= 0) return usage_error("--lines must be positive");
  if (rate < 0) return usage_error("--rate must be >= 0");
  if (runs <= 0) return usage_error("--runs must be positive");
  if (partitions < 0) return usage_error("--partitions must be >= 0");
  if (timeout <= 0) return usage_error("--timeout must be positive");
  if (loop_read_kib < 4 || loop_read_kib > 1 << 20) return usage_error("--loop-read-kib must be 4..1048576");
  if (shape.vocabulary < 1 || shape.vocabulary > 10'000'000) return usage_error("--vocabulary must be 1..10000000");
  if (!(shape.zipf >= 0 && shape.zipf <= 10)) return usage_error("--zipf must be 0..10");
  if (shape.line_bytes < 8 || shape.line_bytes > 4096) return usage_error("--line-bytes must be 8..4096");
  bool needs_port = role == "loop" || role == "engine" || (role == "serve" && listen_fd < 0);
  if (needs_port && (port <= 0 || port > 65535)) return usage_error("--port must be 1..65535");
  signal(SIGPIPE, SIG_IGN);  // a vanished peer is an error we report, not a silent death

  try {
    if (role.empty()) {
      BenchConfig cfg{file, lines, batch_ms, partitions, timeout, rate, child_log_level, shape};
      cfg.reconnect = reconnect;
      cfg.loop_read_kib = loop_read_kib;
      trib::StreamingOptions engine_options;
      if (int code = app.apply(engine_options); code >= 0) return code;
      cfg.receive_buffer_mb = engine_options.receive_buffer_mb;
      cfg.map_ahead_slots = engine_options.map_ahead_slots;
      return orchestrate(cfg, runs, static_cast<uint64_t>(seed), markdown);
    }
    if (role == "generate") {
      if (out.empty()) return usage_error("--role generate needs --out");
      generate_file(out, lines, static_cast<uint64_t>(seed), shape);
      return 0;
    }
    if (role == "serve") {
      if (file.empty()) return usage_error("--role serve needs --file");
      int listener = listen_fd >= 0 ? static_cast<int>(listen_fd) : listen_loopback(static_cast<uint16_t>(port));
      serve(file, listener, rate);
      return 0;
    }
    if (role == "loop") {
      LoopResult r = run_loop(static_cast<uint16_t>(port), batch_ms, static_cast<std::size_t>(loop_read_kib) << 10);
      std::printf("RESULT role=loop lines=%" PRIu64 " words=%" PRIu64 " checksum=%" PRIu64
                  " seconds=%.4f lines_per_s=%.0f rss_mb=%.1f cpu_s=%.3f\n",
                  r.lines, r.words, r.checksum, r.seconds, static_cast<double>(r.lines) / r.seconds,
                  peak_rss_mb(), r.cpu_seconds);
      return 0;
    }
    if (role == "engine") {
      trib::StreamingOptions options;
      if (int code = app.apply(options); code >= 0) return code;
      return run_engine(static_cast<uint16_t>(port), batch_ms, lines, partitions, timeout, reconnect, options);
    }
    return usage_error("unknown --role '" + role + "'");
  } catch (const std::exception& e) {
    spdlog::error("{}{}", role.empty() ? "" : role + ": ", e.what());
    return 1;
  }
}
