// saveAsTextFiles: one directory per batch, part files in partition order,
// published atomically and never written twice.
#define BOOST_TEST_MODULE file_sink
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "io/text_file_sink.hpp"
#include "job_helpers.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;

namespace {

using testing::TempDir;

std::vector<std::string> read_lines(const std::string& file) {
  std::vector<std::string> lines;
  std::istringstream in(testing::slurp(file));
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

}  // namespace

BOOST_AUTO_TEST_CASE(each_batch_becomes_one_directory_of_part_files) {
  TempDir tmp;
  std::mt19937 rng(4);
  std::vector<std::vector<std::string>> inputs;
  for (int b = 0; b < 5; ++b) {
    std::vector<std::string> batch;
    for (int i = static_cast<int>(rng() % 50); i > 0; --i) batch.push_back("r" + std::to_string(rng()));
    inputs.push_back(batch);
  }
  inputs[2].clear();  // an empty batch still gets its (empty) directory
  trib::StreamingOptions opts;
  opts.partitions = 3;
  trib::StreamingContext ssc(std::chrono::milliseconds(20), opts);
  auto queue = std::make_shared<trib::BatchQueue<std::string>>();
  for (auto& b : inputs) queue->push(b);
  auto stream = ssc.queueStream(queue);
  stream.saveAsTextFiles(tmp.path + "/out", "txt");
  auto times = testing::collect(stream);
  ssc.start();
  BOOST_REQUIRE(ssc.awaitBatches(inputs.size(), std::chrono::seconds(120)));
  // Graceful: a batch already under way is published too, not cut off with
  // its staging directory half written.
  ssc.stop(/*graceful=*/true);

  auto batches = times->get();
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    std::string dir = tmp.path + "/out-" + std::to_string(batches[i].first) + ".txt";
    BOOST_REQUIRE_MESSAGE(fs::is_directory(dir), dir);
    BOOST_TEST(fs::exists(dir + "/_SUCCESS"));
    std::vector<std::string> lines;
    for (int p = 0; p < 3; ++p) {
      char name[32];
      std::snprintf(name, sizeof(name), "/part-%05d", p);
      auto part = read_lines(dir + name);
      lines.insert(lines.end(), part.begin(), part.end());
    }
    BOOST_TEST(lines == inputs[i], "batch " << i);
  }
  for (auto& entry : fs::directory_iterator(tmp.path))
    BOOST_TEST(entry.path().string().find("_temporary") == std::string::npos,
               "staging directory left behind: " << entry.path());
}

BOOST_AUTO_TEST_CASE(a_published_batch_is_never_written_again) {
  TempDir tmp;
  std::string prefix = tmp.path + "/out";
  trib::write_batch_part(prefix, "", 1000, 0, "first\n");
  BOOST_TEST(trib::commit_batch_output(prefix, "", 1000));
  // A re-run of the same batch (say, after a restart) changes nothing.
  trib::write_batch_part(prefix, "", 1000, 0, "second\n");
  BOOST_TEST(!trib::commit_batch_output(prefix, "", 1000));
  BOOST_TEST(testing::slurp(prefix + "-1000/part-00000") == "first\n");
  BOOST_TEST(!fs::exists(prefix + "-1000._temporary"));
}

BOOST_AUTO_TEST_CASE(an_unwritable_prefix_fails_the_job_with_the_path) {
  trib::StreamingContext ssc(std::chrono::milliseconds(20));
  auto queue = std::make_shared<trib::BatchQueue<int>>();
  queue->push({1, 2, 3});
  ssc.queueStream(queue).saveAsTextFiles("/proc/no-such-dir/out");
  ssc.start();
  try {
    ssc.awaitTermination();
    BOOST_FAIL("expected the job to fail");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()).find("/proc/no-such-dir/out") != std::string::npos, e.what());
  }
}

// Doubles are written so they read back exactly (print and the Redis sink
// format through the same format_value): 1234567.89, not 1.23457e+06.
BOOST_AUTO_TEST_CASE(doubles_read_back_exactly) {
  std::mt19937_64 rng(9);
  std::vector<double> xs{1234567.89, 0.1, 1e300, -2.5e-310, 123456789012345678.0, 3.0};
  std::uniform_real_distribution<double> uniform(-1e9, 1e9);
  for (int i = 0; i < 200; ++i) xs.push_back(uniform(rng));
  for (int i = 0; i < 200; ++i) {  // any bit pattern that is a finite double
    uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    if (std::isfinite(d)) xs.push_back(d);
  }
  for (double x : xs) {
    std::string text = trib::format_value(x);
    BOOST_TEST(std::strtod(text.c_str(), nullptr) == x, text);
  }
  BOOST_TEST(trib::format_value(1234567.89) == "1234567.89");
  BOOST_TEST(trib::format_value(std::pair<std::string, double>("t", 0.1)) == "(t, 0.1)");
  BOOST_TEST(std::strtof(trib::format_value(0.1f).c_str(), nullptr) == 0.1f);

  TempDir tmp;
  trib::StreamingContext ssc(std::chrono::milliseconds(20));
  auto queue = std::make_shared<trib::BatchQueue<double>>();
  queue->push(xs);
  auto stream = ssc.queueStream(queue);
  stream.saveAsTextFiles(tmp.path + "/out");
  auto times = testing::collect(stream);
  testing::run_batches(ssc, 1);
  std::string dir = tmp.path + "/out-" + std::to_string(times->get().at(0).first);
  std::vector<double> back;
  for (auto& entry : fs::directory_iterator(dir))
    if (entry.path().filename().string().rfind("part-", 0) == 0)
      for (auto& line : read_lines(entry.path().string())) back.push_back(std::strtod(line.c_str(), nullptr));
  std::sort(back.begin(), back.end());
  std::sort(xs.begin(), xs.end());
  BOOST_TEST(back == xs, boost::test_tools::per_element());
}
