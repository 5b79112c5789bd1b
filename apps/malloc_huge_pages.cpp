#include "apps/malloc_huge_pages.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include <gnu/libc-version.h>

namespace trib::cli {
namespace {

bool glibc_has_the_tunable() {
  int major = 0, minor = 0;
  return std::sscanf(gnu_get_libc_version(), "%d.%d", &major, &minor) == 2 &&
         (major > 2 || (major == 2 && minor >= 35));
}

// In `always` mode large allocations get huge pages anyway; in `never` they cannot.
bool kernel_wants_madvise() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes;
  std::getline(in, modes);
  return modes.find("[madvise]") != std::string::npos;
}

}  // namespace

void use_malloc_huge_pages(char** argv) {
  const char* opt_out = std::getenv("TRIB_MALLOC_HUGE_PAGES");
  if (opt_out && std::strcmp(opt_out, "0") == 0) return;
  const char* before = std::getenv("GLIBC_TUNABLES");
  std::string tunables = before ? before : "";
  if (tunables.find("glibc.malloc.hugetlb") != std::string::npos) return;  // set: by us or the user
  if (!glibc_has_the_tunable() || !kernel_wants_madvise()) return;
  std::string original = tunables;
  tunables += tunables.empty() ? "glibc.malloc.hugetlb=1" : ":glibc.malloc.hugetlb=1";
  if (setenv("GLIBC_TUNABLES", tunables.c_str(), 1) != 0) return;
  // By its real path, not /proc/self/exe: the kernel names the process after
  // the file (what ps and pkill match).
  char path[4096];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n > 0) {
    path[n] = '\0';
    execv(path, argv);
  }
  // Still here: no exec (no /proc, say). Run on as we are, and leave the
  // environment of the processes we start as it was.
  if (original.empty()) unsetenv("GLIBC_TUNABLES");
  else setenv("GLIBC_TUNABLES", original.c_str(), 1);
}

}  // namespace trib::cli
