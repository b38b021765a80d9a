/* check_cli.c — the `lamac` binary: --help lists every subcommand, each subcommand
 * answers --help with exit 0, --version prints the version, unknown commands fail. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/testutil.h"

START_TEST(test_version_and_unknown) {
    char out[4096];
    ck_assert_int_eq(lm_test_run(out, sizeof out, "%s", "--version"), 0);
    ck_assert_msg(!strncmp(out, "lamac " LAMAC_VERSION, strlen("lamac " LAMAC_VERSION)), "%s", out);
    ck_assert_int_eq(lm_test_run(out, sizeof out, "%s", "no-such-command"), 2);
    ck_assert_ptr_nonnull(strstr(out, "unknown command 'no-such-command'"));
    ck_assert_int_eq(lm_test_run(out, sizeof out, "%s", ""), 2);
    ck_assert_ptr_nonnull(strstr(out, "usage: lamac"));
}
END_TEST

START_TEST(test_every_subcommand_has_help) {
    char out[8192], sub[8192];
    ck_assert_int_eq(lm_test_run(out, sizeof out, "%s", "--help"), 0);
    char *list = strstr(out, "commands:\n");
    ck_assert_ptr_nonnull(list);
    int n = 0;
    for (char *line = strtok(list + 10, "\n"); line; line = strtok(NULL, "\n")) {
        char name[64];
        if (line[0] != ' ' || line[1] != ' ' || sscanf(line, " %63s", name) != 1) break;
        char args[128];
        snprintf(args, sizeof args, "%s --help", name);
        int rc = lm_test_run(sub, sizeof sub, "%s", args);
        ck_assert_msg(rc == 0, "lamac %s --help exited %d: %s", name, rc, sub);
        ck_assert_msg(strstr(sub, name) != NULL, "lamac %s --help does not name the command", name);
        n++;
    }
    printf("cli: %d subcommands answer --help\n", n);
    ck_assert_int_gt(n, 0);
}
END_TEST

Suite *check_cli_suite(void) {
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_version_and_unknown);
    tcase_add_test(tc, test_every_subcommand_has_help);
    suite_add_tcase(s, tc);
    return s;
}
