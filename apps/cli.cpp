#include "apps/cli.hpp"

#include <cstdio>
#include <sstream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace trib::cli {
namespace {

template <class T>
std::string to_text(const T& x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

}  // namespace

Flags& Flags::add(std::string name, std::string* target, std::string help) {
  flags_.push_back({std::move(name), std::move(help), *target, false,
                    [target](const std::string& v) {
                      *target = v;
                      return true;
                    }});
  return *this;
}

Flags& Flags::add(std::string name, int64_t* target, std::string help) {
  flags_.push_back({std::move(name), std::move(help), to_text(*target), false,
                    [target](const std::string& v) {
                      try {
                        std::size_t used = 0;
                        int64_t x = std::stoll(v, &used);
                        if (used != v.size()) return false;
                        *target = x;
                        return true;
                      } catch (...) {
                        return false;
                      }
                    }});
  return *this;
}

Flags& Flags::add(std::string name, double* target, std::string help) {
  flags_.push_back({std::move(name), std::move(help), to_text(*target), false,
                    [target](const std::string& v) {
                      try {
                        std::size_t used = 0;
                        double x = std::stod(v, &used);
                        if (used != v.size()) return false;
                        *target = x;
                        return true;
                      } catch (...) {
                        return false;
                      }
                    }});
  return *this;
}

Flags& Flags::add_switch(std::string name, bool* target, std::string help) {
  flags_.push_back({std::move(name), std::move(help), "", true,
                    [target](const std::string&) {
                      *target = true;
                      return true;
                    }});
  return *this;
}

Flags::Result Flags::parse(int argc, char** argv, std::string& error) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return Result::help;
    if (arg.rfind("--", 0) != 0) {
      error = "unexpected argument '" + arg + "'";
      return Result::error;
    }
    std::string name = arg.substr(2), value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    const Flag* flag = nullptr;
    for (const auto& f : flags_)
      if (f.name == name) flag = &f;
    if (!flag) {
      error = "unknown flag --" + name;
      return Result::error;
    }
    if (!flag->is_switch && !has_value) {
      if (i + 1 >= argc) {
        error = "flag --" + name + " needs a value";
        return Result::error;
      }
      value = argv[++i];
    }
    if (!flag->set(value)) {
      error = "invalid value '" + value + "' for --" + name;
      return Result::error;
    }
  }
  return Result::ok;
}

std::string Flags::usage() const {
  std::ostringstream os;
  os << "usage: " << program_ << " [flags]\n\n" << summary_ << "\n\nflags:\n";
  for (const auto& f : flags_) {
    std::string left = "  --" + f.name + (f.is_switch ? "" : " VALUE");
    os << left;
    for (std::size_t pad = left.size(); pad < 26; ++pad) os << ' ';
    os << f.help;
    if (!f.is_switch && !f.default_text.empty()) os << " (default: " << f.default_text << ")";
    os << '\n';
  }
  os << "  --help                  show this message\n";
  return os.str();
}

int parse_or_exit_code(Flags& flags, int argc, char** argv) {
  std::string error;
  switch (flags.parse(argc, argv, error)) {
    case Flags::Result::ok:
      return -1;
    case Flags::Result::help:
      std::fputs(flags.usage().c_str(), stdout);
      return 0;
    case Flags::Result::error:
      std::fprintf(stderr, "error: %s\n\n%s", error.c_str(), flags.usage().c_str());
      return 2;
  }
  return 2;
}

bool init_logging(const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") return false;
  // Logs go to stderr; stdout carries the job's output (print()).
  static auto logger = spdlog::stderr_color_mt("tributary");
  spdlog::set_default_logger(logger);
  spdlog::set_level(parsed);
  return true;
}

}  // namespace trib::cli
