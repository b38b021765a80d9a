/* runner.c — the one Check runner. Every tests/check_<name>.c defines
 *     Suite *check_<name>_suite(void);
 * and CMake lists them in build/gen/suites.inc. `lamac_tests` runs all suites,
 * `lamac_tests NAME...` only those named (CTest registers one test per suite).
 * Runs in CK_NOFORK mode unless CK_FORK is set: libtorch and OpenMP do not survive fork.
 * Fixture paths are relative to the source tree: the runner changes into LM_SOURCE_DIR first
 * (a relative LAMAC_BIN is made absolute before), so `build/lamac_tests SUITE` works from any
 * directory, as ctest does. Variables from the caller's environment that lamac reads (data
 * paths, ranks) are cleared first. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "suites.inc" /* generated: LM_SUITES(X) */

#define DECLARE(name) Suite *check_##name##_suite(void);
LM_SUITES(DECLARE)
#undef DECLARE

typedef struct { const char *name; Suite *(*make)(void); } suite_entry;
#define ENTRY(name) {#name, check_##name##_suite},
static const suite_entry g_suites[] = {LM_SUITES(ENTRY){NULL, NULL}};
#undef ENTRY

int main(int argc, char **argv) {
    SRunner *sr = NULL;
    int added = 0;
    const char *bin = getenv("LAMAC_BIN");
    if (bin && bin[0] && bin[0] != '/') {
        char *abs = realpath(bin, NULL);
        if (!abs) {
            fprintf(stderr, "lamac_tests: LAMAC_BIN=%s: not found from %s\n", bin, getenv("PWD") ? getenv("PWD") : ".");
            return 2;
        }
        setenv("LAMAC_BIN", abs, 1);
        free(abs);
    }
    /* hermetic: the variables lamac reads that would change what a test sees (the configs'
     * ${env:LAMAC_DATA,...} data paths, a torchrun/Slurm rank, the distributed options);
     * the tests that need one set it themselves */
    static const char *const outside[] = {"LAMAC_DATA", "LAMAC_OUT", "LAMAC_TB", "LAMAC_PRETRAINED",
                                          "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
                                          "MASTER_PORT", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID",
                                          "SLURM_NTASKS_PER_NODE", "LAMAC_DIST_BACKEND", "LAMAC_DIST_FILE",
                                          "LAMAC_DIST_TIMEOUT", "LAMAC_DIST_BUCKET_MB", "GLOO_SOCKET_IFNAME"};
    for (size_t i = 0; i < sizeof outside / sizeof *outside; i++) unsetenv(outside[i]);
    if (chdir(LM_SOURCE_DIR) != 0) {
        fprintf(stderr, "lamac_tests: cannot enter the source tree %s\n", LM_SOURCE_DIR);
        return 2;
    }
    for (int i = 0; g_suites[i].name; i++) {
        int want = argc < 2;
        for (int a = 1; a < argc; a++)
            if (!strcmp(argv[a], g_suites[i].name)) want = 1;
        if (!want) continue;
        if (!sr)
            sr = srunner_create(g_suites[i].make());
        else
            srunner_add_suite(sr, g_suites[i].make());
        added++;
    }
    if (!added) {
        fprintf(stderr, "lamac_tests: no suite matches\n");
        return 2;
    }
    if (!getenv("CK_FORK")) srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
