// Huge pages for the engine's big allocations.
//
// A batch lives in large arrays allocated fresh every interval (line views,
// combine tables, shuffle buckets), and a 4 KiB page fault per first touch
// took a fifth to a half of a full-speed run. glibc backs large allocations
// with transparent huge pages when told to, but reads that setting
// (GLIBC_TUNABLES=glibc.malloc.hugetlb=1) only from the environment at
// start-up; so an app restarts itself once with it set.
#pragma once

namespace trib::cli {

// Re-executes this program (same pid, arguments and environment, plus
// glibc.malloc.hugetlb=1) when that would change anything: glibc 2.35 or
// later, the kernel's transparent huge pages in `madvise` mode, the tunable
// not set already, and TRIB_MALLOC_HUGE_PAGES not 0. Returns when it does
// not, or when the exec fails.
void use_malloc_huge_pages(char** argv);

}  // namespace trib::cli
