// Helpers for the tests of the job's web server: GET over real HTTP on
// loopback, JSON read back with Boost.PropertyTree, a job whose receiver
// stores a known number of records and then fails once (so the receivers'
// figures have an independent record to match).
#pragma once

#include <atomic>
#include <chrono>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <httplib.h>

#include "dstream/core/receiver.hpp"
#include "dstream/core/text.hpp"
#include "dstream/streaming_context.hpp"

namespace testing {

using Json = boost::property_tree::ptree;

// GET http://127.0.0.1:port/path; throws unless it answers 200.
inline std::string http_get(uint16_t port, const std::string& path, std::string* content_type = nullptr) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(std::chrono::seconds(5));
  client.set_read_timeout(std::chrono::seconds(5));
  auto res = client.Get(path.c_str());
  if (!res) throw std::runtime_error("GET " + path + ": " + httplib::to_string(res.error()));
  if (res->status != 200) throw std::runtime_error("GET " + path + ": HTTP " + std::to_string(res->status));
  if (content_type) *content_type = res->get_header_value("Content-Type");
  return res->body;
}

inline Json parse_json(const std::string& text) {
  std::istringstream in(text);
  Json tree;
  boost::property_tree::read_json(in, tree);
  return tree;
}

inline Json get_json(uint16_t port, const std::string& path) { return parse_json(http_get(port, path)); }

// The elements of a JSON array.
inline std::vector<Json> items(const Json& array) {
  std::vector<Json> out;
  for (auto& [key, child] : array) out.push_back(child);
  return out;
}

// Stores `lines` lines of words once, then fails with `error` once, then
// idles until stopped.
class OnceThenFail : public trib::Receiver {
 public:
  OnceThenFail(int lines, std::string error, std::shared_ptr<std::atomic<int>> runs)
      : lines_(lines), error_(std::move(error)), runs_(std::move(runs)) {}
  std::string describe() const override { return "once-then-fail \"test\""; }
  void run(trib::ReceiverContext& ctx) override {
    if ((*runs_)++ == 0) {
      std::vector<std::string> chunk;
      for (int i = 0; i < lines_; ++i) chunk.push_back("w" + std::to_string(i % 7) + " x");
      ctx.store(std::move(chunk));
      throw std::runtime_error(error_);
    }
    while (!ctx.stopping()) ctx.wait_for(std::chrono::milliseconds(50));
  }

 private:
  int lines_;
  std::string error_;
  std::shared_ptr<std::atomic<int>> runs_;
};

// A running word count (updateStateByKey, checkpointed into `checkpoint_dir`,
// two partitions, 100 ms batches) over OnceThenFail's records, serving its
// web UI on a free port (uiPort()).
inline std::unique_ptr<trib::StreamingContext> word_count_job(const std::string& checkpoint_dir, int lines,
                                                              std::shared_ptr<std::atomic<int>> runs,
                                                              const std::string& error) {
  trib::StreamingOptions o;
  o.partitions = 2;
  o.progress_seconds = 0;
  o.ui_port = 0;
  auto ssc = std::make_unique<trib::StreamingContext>(std::chrono::milliseconds(100), o);
  ssc->checkpoint(checkpoint_dir);
  ssc->receiverStream([=] { return std::make_unique<OnceThenFail>(lines, error, runs); })
      .flatMap(trib::split_words)
      .map([](trib::Text w) { return std::pair<std::string, int64_t>(std::string(w), 1); })
      .updateStateByKey([](const std::vector<int64_t>& fresh, const std::optional<int64_t>& total) {
        int64_t sum = total.value_or(0);
        for (auto n : fresh) sum += n;
        return std::optional<int64_t>(sum);
      })
      .foreachRDD([](const std::vector<std::pair<std::string, int64_t>>&, int64_t) {});
  return ssc;
}

}  // namespace testing
