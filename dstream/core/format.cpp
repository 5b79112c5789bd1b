#include <cstdio>
#include <ctime>
#include <iostream>

#include "dstream/core/format.hpp"

namespace trib {

std::string format_batch_time(int64_t batch_time_ms) {
  std::time_t secs = static_cast<std::time_t>(batch_time_ms / 1000);
  std::tm local{};
  localtime_r(&secs, &local);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &local);
  std::string text = buf;
  if (int ms = static_cast<int>(batch_time_ms % 1000); ms != 0) {
    char frac[16];
    std::snprintf(frac, sizeof(frac), ".%03d", ms);
    text += frac;
  }
  return text;
}

std::string format_utc_ms(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", &tm);
  return text;
}

void write_print_output(std::ostream* out, const std::string& text) {
  if (out) {
    *out << text << std::flush;
  } else {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  }
}

}  // namespace trib
