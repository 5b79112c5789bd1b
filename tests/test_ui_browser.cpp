// The status page in a real browser: a running job serves it, headless
// Chromium (Debian's `chromium`) loads it and runs its script, and the DOM it
// leaves must show charts drawn with data (the page records what it drew,
// read back from the charts and their canvases) and figures equal to the
// JSON API's. Chromium missing is a failure, not a skip: the page is only
// tested here. Set TRIB_UI_SCREENSHOT=path.png to also save a screenshot
// (that is how docs/ui.png is made).
#define BOOST_TEST_MODULE ui_browser
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>

#include "job_helpers.hpp"
#include "process.hpp"
#include "status_api.hpp"
#include "temp_dir.hpp"

using namespace std::chrono_literals;
using testing::get_json;
using testing::items;

namespace {

std::string find_chromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (std::filesystem::exists(p)) return p;
  return {};
}

// Runs headless Chromium on `url` with `what` (--dump-dom, --screenshot=...),
// letting the page's timers run for `budget_ms` of virtual time.
std::string run_chromium(const std::string& chromium, const std::string& profile, const std::string& url,
                         const std::string& what, int budget_ms) {
  testing::TempDir out;
  std::string dom = out.path + "/dom.html", err = out.path + "/err.txt";
  std::string cmd = "timeout 120 " + chromium + " --headless --no-sandbox --disable-gpu --hide-scrollbars" +
                    " --user-data-dir=" + profile + " --window-size=1400,2400" +
                    " --virtual-time-budget=" + std::to_string(budget_ms) + " " + what + " '" + url + "' > " +
                    dom + " 2> " + err;
  int rc = std::system(cmd.c_str());
  BOOST_REQUIRE_MESSAGE(rc == 0, "chromium failed (" << rc << "): " << testing::slurp(err));
  return testing::slurp(dom);
}

// The data-* attributes of the element opened by `tag_regex`.
std::map<std::string, std::string> attributes(const std::string& html, const std::string& tag_regex) {
  std::smatch m;
  std::map<std::string, std::string> out;
  if (!std::regex_search(html, m, std::regex(tag_regex))) return out;
  std::string tag = m[0];
  static const std::regex attr(R"re(data-([a-z-]+)="([^"]*)")re");
  for (auto it = std::sregex_iterator(tag.begin(), tag.end(), attr); it != std::sregex_iterator(); ++it)
    out[(*it)[1]] = (*it)[2];
  return out;
}

int64_t number(const std::map<std::string, std::string>& attrs, const std::string& key) {
  auto it = attrs.find(key);
  BOOST_REQUIRE_MESSAGE(it != attrs.end() && !it->second.empty(), "the page did not set data-" << key);
  return std::stoll(it->second);
}

}  // namespace

BOOST_AUTO_TEST_CASE(page_draws_the_jobs_figures) {
  std::string chromium = find_chromium();
  BOOST_REQUIRE_MESSAGE(!chromium.empty(),
                        "chromium is not installed: the status page is tested in it (apt-get install chromium; "
                        "./dev.sh installs it)");
  testing::TempDir dir, profile;
  const int lines = 3000;
  auto runs = std::make_shared<std::atomic<int>>(0);
  auto ssc = testing::word_count_job(dir.path, lines, runs, "connection reset by peer");
  ssc->start();
  uint16_t port = ssc->uiPort();
  BOOST_REQUIRE(port > 0);
  // Every record processed, the receiver failed once, a checkpoint written,
  // and enough batches for the charts.
  BOOST_REQUIRE(testing::eventually(
      [&] {
        auto s = ssc->status();
        return s.processed_records == lines && s.batches_completed >= 25 && s.checkpoints.written >= 2 &&
               !s.receivers.empty() && s.receivers[0].errors == 1;
      },
      60s));

  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  std::string dom = run_chromium(chromium, profile.path, url, "--dump-dom", 3000);
  // The job keeps running: the API is read after the page, so every batch the
  // page drew is among the API's.
  auto api = items(get_json(port, "/api/v1/batches"));
  auto status = get_json(port, "/api/v1/status");

  auto body = attributes(dom, "<body[^>]*>");
  std::smatch body_tag;
  if (std::regex_search(dom, body_tag, std::regex("<body[^>]*>"))) BOOST_TEST_MESSAGE("page: " << body_tag[0]);
  BOOST_REQUIRE_MESSAGE(body.count("batches-drawn"), "the page drew nothing; DOM: " << dom.substr(0, 2000));
  std::string page_error = body.count("last-error") ? body.at("last-error") : "";
  BOOST_CHECK_MESSAGE(page_error.empty(), "the page failed to refresh: " << page_error);
  BOOST_CHECK_GE(number(body, "updates"), 2);  // it refreshed itself while loaded

  // The charts drew the batches the API lists, with the API's records.
  int64_t first = number(body, "first-batch"), last = number(body, "last-batch");
  int64_t in_range = 0, records = 0;
  for (auto& b : api) {
    int64_t t = b.get<int64_t>("batch_time_ms");
    if (t < first || t > last) continue;
    ++in_range;
    records += b.get<int64_t>("input_records");
  }
  BOOST_CHECK_GE(number(body, "batches-drawn"), 25);
  BOOST_CHECK_EQUAL(number(body, "batches-drawn"), in_range);
  BOOST_CHECK_EQUAL(number(body, "histogram-batches"), in_range);
  BOOST_CHECK_EQUAL(number(body, "records-drawn"), records);
  BOOST_CHECK_EQUAL(number(body, "records-drawn"), lines);  // and all of them: the test's own record
  BOOST_CHECK_EQUAL(number(body, "processed-records"), status.get<int64_t>("processed_records"));
  // Pixels were painted: the canvases hold more than the axes.
  BOOST_CHECK_GT(number(body, "input-pixels"), 2000);
  BOOST_CHECK_GT(number(body, "histogram-pixels"), 2000);

  // The recent batches table: each row equals the API's batch of that time.
  std::map<int64_t, testing::Json> by_time;
  for (auto& b : api) by_time[b.get<int64_t>("batch_time_ms")] = b;
  static const std::regex row(
      R"re(<tr data-batch-time="(\d+)" data-records="(\d+)" data-processing-ms="([^"]+)">)re");
  int rows = 0;
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), row); it != std::sregex_iterator(); ++it) {
    ++rows;
    int64_t t = std::stoll((*it)[1]);
    BOOST_REQUIRE_MESSAGE(by_time.count(t), "the page shows batch " << t << " the API does not have");
    BOOST_CHECK_EQUAL(std::stoll((*it)[2]), by_time[t].get<int64_t>("input_records"));
    BOOST_CHECK_CLOSE(std::stod((*it)[3]), by_time[t].get<double>("processing_time_ms"), 1e-9);
  }
  BOOST_CHECK_EQUAL(rows, 20);

  // Receivers, workers, checkpoints and state as the API has them.
  auto receiver = attributes(dom, "<tr data-stream=[^>]*>");
  BOOST_CHECK_EQUAL(number(receiver, "records"), lines);
  BOOST_CHECK(dom.find("connection reset by peer") != std::string::npos);
  auto worker = attributes(dom, "<tr data-label=\"coordinator\"[^>]*>");
  BOOST_CHECK_GT(number(worker, "tasks-completed"), 0);
  auto op = attributes(dom, "<tr data-node=[^>]*>");
  BOOST_CHECK_EQUAL(number(op, "partitions"), 2);
  auto checkpoint = attributes(dom, "<tr data-batch-time=\"[0-9-]+\" data-bytes=[^>]*>");
  BOOST_CHECK_GT(number(checkpoint, "bytes"), 0);

  if (const char* shot = std::getenv("TRIB_UI_SCREENSHOT"))
    run_chromium(chromium, profile.path, url, std::string("--screenshot=") + shot, 3000);
  ssc->stop(true);
}
