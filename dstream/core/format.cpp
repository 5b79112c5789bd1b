#include <cstdio>
#include <ctime>
#include <iostream>

#include "dstream/core/format.hpp"

namespace trib {

namespace {
// "YYYY-MM-DD HH:MM:SS" of the whole seconds of `ms`, in local time or UTC.
std::string format_seconds(int64_t ms, bool utc) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  if (utc) gmtime_r(&secs, &tm);
  else localtime_r(&secs, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", &tm);
  return text;
}
}  // namespace

std::string format_batch_time(int64_t batch_time_ms) {
  std::string text = format_seconds(batch_time_ms, false);
  if (int ms = static_cast<int>(batch_time_ms % 1000); ms != 0) {
    char frac[16];
    std::snprintf(frac, sizeof(frac), ".%03d", ms);
    text += frac;
  }
  return text;
}

std::string format_utc_ms(int64_t ms) { return format_seconds(ms, true); }

void write_print_output(std::ostream* out, const std::string& text) {
  if (out) {
    *out << text << std::flush;
  } else {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  }
}

}  // namespace trib
