/* signals.c — SIGINT/SIGTERM flag handling for the training loop (see signals.h). */
#define _GNU_SOURCE
#include "train/signals.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#include "core/err.h"

static volatile sig_atomic_t g_pending;
static struct sigaction g_old_int, g_old_term;
static int g_installed;

static void on_signal(int sig) {
    if (g_pending) { /* second signal: default action (exit) */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    g_pending = sig;
}

int lm_signals_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    g_pending = 0;
    if (sigaction(SIGINT, &sa, &g_old_int) < 0) return lm_err_code(LM_EFAIL, "sigaction(SIGINT): %s", strerror(errno));
    if (sigaction(SIGTERM, &sa, &g_old_term) < 0) {
        int rc = lm_err_code(LM_EFAIL, "sigaction(SIGTERM): %s", strerror(errno));
        sigaction(SIGINT, &g_old_int, NULL);
        return rc;
    }
    g_installed = 1;
    return 0;
}

int lm_signals_pending(void) { return g_pending; }
void lm_signals_clear(void) { g_pending = 0; }

void lm_signals_restore(void) {
    if (!g_installed) return;
    sigaction(SIGINT, &g_old_int, NULL);
    sigaction(SIGTERM, &g_old_term, NULL);
    g_installed = 0;
}
