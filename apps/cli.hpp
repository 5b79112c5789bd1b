// A small command-line flag parser shared by the apps: --name value or
// --name=value, --help, and a usage text built from the declared flags.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace trib::cli {

class Flags {
 public:
  Flags(std::string program, std::string summary)
      : program_(std::move(program)), summary_(std::move(summary)) {}

  Flags& add(std::string name, std::string* target, std::string help);
  Flags& add(std::string name, int64_t* target, std::string help);
  Flags& add(std::string name, double* target, std::string help);
  Flags& add_switch(std::string name, bool* target, std::string help);

  enum class Result { ok, help, error };
  // On error, `error` names the offending flag or value.
  Result parse(int argc, char** argv, std::string& error);

  std::string usage() const;

 private:
  struct Flag {
    std::string name, help, default_text;
    bool is_switch = false;
    std::function<bool(const std::string&)> set;  // false: bad value
  };
  std::string program_, summary_;
  std::vector<Flag> flags_;
};

// Parses the flags, printing usage for --help (exit 0) and an error plus
// usage for bad flags (exit 2). Returns -1 to continue, else the exit code.
int parse_or_exit_code(Flags& flags, int argc, char** argv);

// Sends logs to stderr at --log-level (trace, debug, info, warn, error,
// critical, off); false if the level is unknown.
bool init_logging(const std::string& level);

}  // namespace trib::cli
