// The apps' flag parser (apps/cli.hpp, CLI11 underneath): values, switches
// with proper booleans, aligned help, and settings from a config file and
// the environment, with the command line winning.
#define BOOST_TEST_MODULE cli
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "apps/cli.hpp"
#include "temp_dir.hpp"

namespace {

struct Settings {
  std::string source = "generator";
  int64_t batch_ms = 1000;
  double rate = 2.5;
  bool markdown = false;
  int64_t worker_timeout_ms = 0;
};

trib::cli::Flags declare(Settings& s) {
  trib::cli::Flags flags("prog", "A test program.");
  flags.add("source", &s.source, "where lines come from")
      .add("batch-ms", &s.batch_ms, "batch interval in ms")
      .add("rate", &s.rate, "lines per second")
      .add_switch("markdown", &s.markdown, "print a Markdown table")
      .add("worker-timeout-ms", &s.worker_timeout_ms,
           "coordinator: give up on a worker silent this long; 0: scaled to the batches");
  return flags;
}

// Parses argv (after the program name); the error, empty if none.
std::string parse(Settings& s, std::vector<std::string> args) {
  auto flags = declare(s);
  std::vector<char*> argv{const_cast<char*>("prog")};
  for (auto& a : args) argv.push_back(a.data());
  std::string error;
  auto r = flags.parse(static_cast<int>(argv.size()), argv.data(), error);
  if (r == trib::cli::Flags::Result::help) return "help";
  return r == trib::cli::Flags::Result::ok ? "" : error;
}

}  // namespace

BOOST_AUTO_TEST_CASE(values_and_errors) {
  Settings s;
  BOOST_TEST(parse(s, {"--source", "socket://h:1", "--batch-ms=250", "--rate", "0.5"}) == "");
  BOOST_TEST(s.source == "socket://h:1");
  BOOST_TEST(s.batch_ms == 250);
  BOOST_TEST(s.rate == 0.5);
  Settings d;
  BOOST_TEST(parse(d, {}) == "");
  BOOST_TEST(d.batch_ms == 1000);  // the declared default
  BOOST_TEST(parse(d, {"--bogus"}) == "unknown flag --bogus");
  BOOST_TEST(parse(d, {"--batch-ms", "abc"}) == "invalid value 'abc' for --batch-ms");
  BOOST_TEST(parse(d, {"--batch-ms", "12x"}) == "invalid value '12x' for --batch-ms");
  BOOST_TEST(parse(d, {"--batch-ms"}) == "flag --batch-ms needs a value");
  BOOST_TEST(parse(d, {"--batch-ms", "100", "--batch-ms=200"}) == "flag --batch-ms is given 2 times; give it once");
  BOOST_TEST(parse(d, {"--help"}) == "help");
}

BOOST_AUTO_TEST_CASE(switches_take_proper_booleans) {
  for (auto [arg, want] : std::vector<std::pair<std::string, bool>>{
           {"--markdown", true}, {"--markdown=yes", true}, {"--markdown=true", true},
           {"--markdown=1", true}, {"--markdown=no", false}, {"--markdown=false", false},
           {"--markdown=0", false}, {"--markdown=off", false}}) {
    Settings s;
    s.markdown = !want;
    BOOST_TEST(parse(s, {arg}) == "", arg);
    BOOST_TEST(s.markdown == want, arg);
  }
  Settings s;
  BOOST_TEST(parse(s, {"--markdown=maybe"}) != "");
}

BOOST_AUTO_TEST_CASE(help_lines_up_names_and_descriptions) {
  Settings s;
  std::string usage = declare(s).usage();
  BOOST_TEST(usage.find("usage:") != std::string::npos, usage);
  // Every description starts in the same column, after at least one space
  // (a long name gets its description on the next line).
  std::istringstream lines(usage);
  std::set<std::size_t> columns;
  for (std::string line; std::getline(lines, line);) {
    for (std::string d : {"where lines come from", "batch interval in ms", "print a Markdown table",
                          "coordinator: give up"}) {
      auto at = line.find(d);
      if (at == std::string::npos) continue;
      columns.insert(at);
      BOOST_TEST((at == 0 || line[at - 1] == ' '), line);
    }
  }
  BOOST_TEST(columns.size() == 1u, usage);
  BOOST_TEST(usage.find("1000") != std::string::npos, "the default is shown\n" << usage);
}

BOOST_AUTO_TEST_CASE(settings_from_a_config_file_and_the_environment) {
  testing::TempDir dir;
  std::string config = dir.path + "/job.conf";
  std::ofstream(config) << "# a job's settings\nbatch-ms = 300\nrate = 7.5\nmarkdown = true\n";
  ::setenv("TRIB_BATCH_MS", "400", 1);
  ::setenv("TRIB_SOURCE", "socket://env:2", 1);
  Settings s;
  BOOST_TEST(parse(s, {"--config", config}) == "");
  BOOST_TEST(s.batch_ms == 300);               // the file over the environment
  BOOST_TEST(s.source == "socket://env:2");    // the environment over the default
  BOOST_TEST(s.rate == 7.5);
  BOOST_TEST(s.markdown);
  Settings t;
  BOOST_TEST(parse(t, {"--config", config, "--batch-ms", "20"}) == "");
  BOOST_TEST(t.batch_ms == 20);                // the command line over everything
  ::setenv("TRIB_BATCH_MS", "soon", 1);
  Settings u;
  BOOST_TEST(parse(u, {}) == "invalid value 'soon' for --batch-ms");
  ::unsetenv("TRIB_BATCH_MS");
  ::unsetenv("TRIB_SOURCE");
  std::ofstream(config) << "batch-mss = 300\n";
  Settings v;
  std::string error = parse(v, {"--config", config});
  BOOST_TEST(error.find("batch-mss") != std::string::npos, error);
  Settings w;
  error = parse(w, {"--config", dir.path + "/missing.conf"});
  BOOST_TEST(error.find("missing.conf") != std::string::npos, error);
}
