/* memstat.h — this process's memory figures from /proc/self/status (Linux), for the resident
 * set size lines of benchmarks and the training log: "VmRSS" (now), "VmHWM" (peak).
 * No official counterpart. */
#ifndef LM_MEMSTAT_H
#define LM_MEMSTAT_H

/* kB value of a /proc/self/status field ("VmRSS", "VmHWM"); -1 if unknown. */
long lm_memstat_kb(const char *field);

#endif
