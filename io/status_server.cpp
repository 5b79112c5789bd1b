#include "io/status_server.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <httplib.h>

#include "io/status_render.hpp"
#include "io/ui_assets.hpp"

namespace trib {

struct StatusServer::Impl {
  httplib::Server server;
  std::thread thread;
  int port = 0;
};

StatusServer::StatusServer(std::shared_ptr<const StatusBoard> board, const std::string& host, uint16_t port)
    : impl_(std::make_unique<Impl>()) {
  auto& svr = impl_->server;
  // A few threads are plenty for a page and a scraper; the job keeps the
  // cores. A thread serves one connection at a time, so connections close
  // after each answer and idle ones (a browser's spare sockets) are dropped
  // after a second, rather than holding the threads.
  svr.new_task_queue = [] { return new httplib::ThreadPool(4); };
  svr.set_keep_alive_max_count(1);
  svr.set_read_timeout(1, 0);
  auto json = [board](std::string (*render)(const JobStatus&)) {
    return [board, render](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-store");
      res.set_content(render(board->snapshot()), "application/json");
    };
  };
  svr.Get("/api/v1/status", json(status_json));
  svr.Get("/api/v1/batches", json(batches_json));
  svr.Get("/api/v1/receivers", json(receivers_json));
  svr.Get("/api/v1/workers", json(workers_json));
  svr.Get("/api/v1/checkpoints", json(checkpoints_json));
  svr.Get("/api/v1/operators", json(operators_json));
  svr.Get("/metrics", [board](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_text(board->snapshot()), "text/plain; version=0.0.4; charset=utf-8");
  });
  auto asset = [](std::string_view name, httplib::Response& res) {
    const UiAsset* a = find_ui_asset(name);
    if (!a) {
      res.status = 404;
      res.set_content("no such file\n", "text/plain");
      return;
    }
    res.set_content(a->bytes.data(), a->bytes.size(), std::string(a->content_type).c_str());
  };
  svr.Get("/", [asset](const httplib::Request&, httplib::Response& res) { asset("index.html", res); });
  svr.Get(R"(/ui/([A-Za-z0-9_.\-]+))",
          [asset](const httplib::Request& req, httplib::Response& res) { asset(req.matches[1].str(), res); });

  errno = 0;
  impl_->port = port == 0 ? svr.bind_to_any_port(host) : (svr.bind_to_port(host, port) ? port : -1);
  if (impl_->port <= 0) {
    int err = errno;
    throw std::runtime_error("cannot serve the web UI on " + host + ":" + std::to_string(port) + ": " +
                             (err ? std::strerror(err) : "cannot bind there") +
                             " (choose another --ui-port, or --ui-port -1 to turn it off)");
  }
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
}

StatusServer::~StatusServer() {
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

uint16_t StatusServer::port() const { return static_cast<uint16_t>(impl_->port); }

}  // namespace trib
