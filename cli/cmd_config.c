/* cmd_config.c — `lamac config show CONFIG [key=value ...]`: prints the composed, overridden,
 * interpolated and validated configuration as YAML, as Hydra's `--cfg job` does for
 * bin/train.py; `lamac config keys` lists the schema (every key lamac knows). */
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "cli/command.h"
#include "config/config.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: lamac config show CONFIG [OVERRIDE ...]\n"
            "       lamac config keys\n\n"
            "show   compose CONFIG (a YAML file of a configs/training-like tree: its `defaults:`\n"
            "       list loads <dir>/<group>/<option>.yaml at key <group>), apply the overrides,\n"
            "       resolve ${a.b} and ${env:NAME[,default]} interpolations, validate every key\n"
            "       and print the result as YAML. An ${env:NAME} without default whose variable\n"
            "       is unset does not stop other commands until they read that key; show prints\n"
            "       every key, so it fails naming the key and the variable. Overrides:\n"
            "         key.sub=value    set a key (YAML value: 4, 0.001, true, abc, [1,2])\n"
            "         +key.sub=value   add a key the config lacks\n"
            "         ++key.sub=value  add or set\n"
            "         ~key.sub         delete a key\n"
            "         group=option     choose another file of a group (data=abl-02-thin-bb)\n"
            "keys   list every key lamac knows: type, default, range or choices.\n\n"
            "example: lamac config show configs/training/lama-fourier.yaml data.batch_size=4\n"
            "exit status: 0 ok, 1 bad config or override (one line on stderr: file, line, key).\n");
}

static int fail(void) {
    const char *m = lm_err_msg();
    if (!strncmp(m, "config: ", 8)) m += 8;
    fprintf(stderr, "lamac config: %s\n", m[0] ? m : "failed");
    return 1;
}

static int show(int argc, char **argv) {
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc < 2) {
        fprintf(stderr, "lamac config: show needs a CONFIG file (see lamac config show --help)\n");
        return 1;
    }
    lm_cfg *c = NULL;
    if (lm_cfg_load(&c, argv[1], (const char *const *)argv + 2, argc - 2) < 0) return fail();
    int rc = lm_cfg_write_yaml(c, stdout);
    lm_cfg_free(c);
    if (rc < 0 || fflush(stdout) != 0) {
        if (rc >= 0) lm_err_set("config: cannot write to stdout");
        return fail();
    }
    return 0;
}

static int keys(void) {
    static const char *const flag_names[] = {"", " (nullable)"};
    for (size_t i = 0; i < lm_cfg_schema_len; i++) {
        const lm_cfg_key *k = &lm_cfg_schema[i];
        printf("%-60s %-11s", k->path, lm_cfg_type_name(k->type));
        if (k->def) printf(" default %s", k->def[0] ? k->def : "''");
        if (k->choices) printf(" one of %s", k->choices);
        if (k->flags & LM_CFG_F_MIN) printf(" min %g", k->min);
        if (k->flags & LM_CFG_F_MAX) printf(" max %g", k->max);
        printf("%s%s\n", flag_names[!!(k->flags & LM_CFG_F_NULLABLE)],
               (k->flags & LM_CFG_F_UNUSED) ? " (accepted, unused)" : "");
    }
    return 0;
}

static int run(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "show")) return show(argc - 1, argv + 1);
    if (!strcmp(argv[1], "keys")) return keys();
    fprintf(stderr, "lamac config: unknown subcommand '%s' (see lamac config --help)\n", argv[1]);
    return 1;
}

const lm_command lm_cmd_config = {"config", "show the resolved configuration (Hydra-style YAML)", run};
