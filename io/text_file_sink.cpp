#include "io/text_file_sink.hpp"

#include <cstdio>

#include <spdlog/spdlog.h>

#include "recovery/durable_file.hpp"

namespace trib {
namespace {

std::string staging_dir(const std::string& final_dir) { return final_dir + "._temporary"; }

}  // namespace

std::string batch_output_dir(const std::string& prefix, const std::string& suffix,
                             int64_t batch_time_ms) {
  std::string dir = prefix + "-" + std::to_string(batch_time_ms);
  if (!suffix.empty()) dir += "." + suffix;
  return dir;
}

void write_batch_part(const std::string& prefix, const std::string& suffix,
                      int64_t batch_time_ms, int partition, const std::string& text) {
  std::string final_dir = batch_output_dir(prefix, suffix, batch_time_ms);
  if (path_exists(final_dir)) return;  // published before a restart
  std::string staging = staging_dir(final_dir);
  make_directories(staging);
  char name[32];
  std::snprintf(name, sizeof(name), "/part-%05d", partition);
  write_file_synced(staging + name, text);
}

bool commit_batch_output(const std::string& prefix, const std::string& suffix,
                         int64_t batch_time_ms) {
  std::string final_dir = batch_output_dir(prefix, suffix, batch_time_ms);
  std::string staging = staging_dir(final_dir);
  if (path_exists(final_dir)) {
    remove_tree(staging);
    spdlog::info("{} was already written; not writing it again", final_dir);
    return false;
  }
  make_directories(staging);  // a batch with no partitions is an empty directory
  write_file_synced(staging + "/_SUCCESS", "");
  return commit_directory(staging, final_dir);
}

}  // namespace trib
