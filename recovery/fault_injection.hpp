// Fault injection for crash tests: with TRIB_CRASH_AT=<point>:<n> in the
// environment, the process kills itself (SIGKILL, no clean-up) the n-th time
// it reaches crash_point("<point>"). Without the variable it costs one
// atomic increment. Points:
//   durable-write-before-rename   a checkpoint or file written, not yet renamed
//   after-output                  a batch's outputs ran, its completion not yet recorded
//   interval-close                the coordinator is about to close an interval
//   map-task, reduce-task         a task of that phase is about to run
//
// With TRIB_DELAY_AT=<point>:<ms>, delay_point("<point>") sleeps that long
// each time (a slow node). Points:
//   task                          a task is about to run
//   map-task, reduce-task         the same, for one phase only
#pragma once

namespace trib {

void crash_point(const char* point);
void delay_point(const char* point);

}  // namespace trib
