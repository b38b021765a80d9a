/* flags.c — integer flag values (see flags.h). */
#include "core/flags.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

#include "core/err.h"

int lm_flag_long(const char *flag, const char *v, long lo, long hi, long *out) {
    char *end = NULL;
    errno = 0;
    long n = v && *v && !isspace((unsigned char)*v) ? strtol(v, &end, 10) : 0;
    if (!v || !*v || !end || *end || errno == ERANGE || n < lo || n > hi)
        return lm_err_code(LM_EINVAL, "%s: expected an integer in %ld..%ld, got '%s'", flag, lo, hi,
                           v ? v : "");
    *out = n;
    return 0;
}

int lm_flag_int(const char *flag, const char *v, int lo, int hi, int *out) {
    long n;
    int rc = lm_flag_long(flag, v, lo, hi, &n);
    if (rc == 0) *out = (int)n;
    return rc;
}
