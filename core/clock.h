/* clock.h — the clocks commands and benchmarks print rates and durations with: monotonic
 * wall time and this process's CPU time, in seconds. Never used to decide anything in
 * tests (DESIGN.md §8). No official counterpart (Python's time.monotonic/process_time). */
#ifndef LM_CLOCK_H
#define LM_CLOCK_H

double lm_clock_now(void); /* CLOCK_MONOTONIC, seconds from an arbitrary origin */
double lm_clock_cpu(void); /* CPU seconds used by every thread of this process */

#endif
