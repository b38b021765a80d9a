/* lt_err.c — shim message -> lm_err message with context (see lt_err.h). */
#include "model/lt_err.h"

#include <stdarg.h>
#include <stdio.h>

#include "core/err.h"
#include "shim/lt.h"

int lm_err_lt(const char *fmt, ...) {
    char ctx[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    const char *m = lt_error();
    if (n >= (int)sizeof ctx) /* the message buffer cuts at 1023 anyway; say where */
        return lm_err_code(LM_ETORCH, "%.500s...: %s", ctx, m[0] ? m : "libtorch call failed");
    return lm_err_code(LM_ETORCH, "%s: %s", ctx, m[0] ? m : "libtorch call failed");
}
