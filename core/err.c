/* err.c — thread-local error message and code (see err.h). */
#include "core/err.h"

#include <stdio.h>
#include <string.h>

#define LM_ERR_CAP 1024
static _Thread_local char g_msg[LM_ERR_CAP];
static _Thread_local int g_code;

static void set_v(int code, const char *fmt, va_list ap) {
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    g_code = code < 0 ? code : LM_EFAIL;
}

int lm_err_set(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_v(LM_EFAIL, fmt, ap);
    va_end(ap);
    return LM_EFAIL;
}

int lm_err_code(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_v(code, fmt, ap);
    va_end(ap);
    return g_code;
}

int lm_err_prefix(const char *fmt, ...) {
    char ctx[LM_ERR_CAP], old[LM_ERR_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    memcpy(old, g_msg, sizeof old);
    /* "<ctx>: <old>", truncated to the buffer */
    size_t n = strlen(ctx);
    memcpy(g_msg, ctx, n + 1);
    if (old[0] && n + 2 < sizeof g_msg) {
        memcpy(g_msg + n, ": ", 3);
        n += 2;
        size_t m = strlen(old);
        if (m > sizeof g_msg - 1 - n) m = sizeof g_msg - 1 - n;
        memcpy(g_msg + n, old, m);
        g_msg[n + m] = 0;
    }
    if (g_code >= 0) g_code = LM_EFAIL;
    return g_code;
}

const char *lm_err_msg(void) { return g_msg; }
int lm_err_last_code(void) { return g_code; }

const char *lm_err_code_name(int code) {
    switch (code) {
    case LM_OK: return "ok";
    case LM_EFAIL: return "failure";
    case LM_EIO: return "I/O";
    case LM_EINVAL: return "invalid input";
    case LM_ENOMEM: return "out of memory";
    case LM_ENOTSUP: return "not supported";
    case LM_ETORCH: return "libtorch";
    case LM_ENONFINITE: return "non-finite value";
    }
    return "unknown";
}

void lm_err_clear(void) {
    g_msg[0] = 0;
    g_code = LM_OK;
}
