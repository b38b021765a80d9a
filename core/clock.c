/* clock.c — monotonic and CPU clocks in seconds (see clock.h). */
#include "core/clock.h"

#include <time.h>

static double seconds(clockid_t c) {
    struct timespec t;
    if (clock_gettime(c, &t) != 0) return 0;
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

double lm_clock_now(void) { return seconds(CLOCK_MONOTONIC); }
double lm_clock_cpu(void) { return seconds(CLOCK_PROCESS_CPUTIME_ID); }
