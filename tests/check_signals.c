/* check_signals.c — train/signals: the first SIGINT/SIGTERM sets the flag and nothing else;
 * a second one exits (checked in a forked child); restore puts the old handlers back. */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "train/signals.h"

START_TEST(test_first_signal_sets_flag) {
    ck_assert_int_eq(lm_signals_install(), 0);
    ck_assert_int_eq(lm_signals_pending(), 0);
    raise(SIGTERM);
    ck_assert_int_eq(lm_signals_pending(), SIGTERM);
    lm_signals_clear();
    ck_assert_int_eq(lm_signals_pending(), 0);
    raise(SIGINT);
    ck_assert_int_eq(lm_signals_pending(), SIGINT);
    lm_signals_clear();
    lm_signals_restore();
    /* after restore a raised signal goes to the previous handler: here one of our own */
    struct sigaction sa, old;
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGTERM, &sa, &old);
    ck_assert_int_eq(lm_signals_install(), 0);
    lm_signals_restore();
    struct sigaction now;
    sigaction(SIGTERM, NULL, &now);
    ck_assert_ptr_eq((void *)now.sa_handler, (void *)SIG_IGN);
    raise(SIGTERM); /* ignored */
    ck_assert_int_eq(lm_signals_pending(), 0);
    sigaction(SIGTERM, &old, NULL);
}
END_TEST

START_TEST(test_second_signal_exits) {
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (lm_signals_install() < 0) _exit(3);
        raise(SIGINT);
        if (lm_signals_pending() != SIGINT) _exit(4);
        raise(SIGTERM); /* second: default action, the child dies here */
        _exit(5);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "child status %d", st);
}
END_TEST

Suite *check_signals_suite(void) {
    Suite *s = suite_create("signals");
    TCase *tc = tcase_create("signals");
    tcase_add_test(tc, test_first_signal_sets_flag);
    tcase_add_test(tc, test_second_signal_exits);
    suite_add_tcase(s, tc);
    return s;
}
