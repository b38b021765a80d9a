/* memstat.c — /proc/self/status fields (see memstat.h). */
#include "core/memstat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long lm_memstat_kb(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':') {
            v = atol(line + n + 1);
            break;
        }
    fclose(f);
    return v;
}
