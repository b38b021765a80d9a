/* launch_args.c — the launcher's flags and the workers' command line (see launch_args.h;
 * torch.distributed.run's argument parser). */
#include "cli/launch_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/flags.h"

static int parse_master(lm_launch_opts *o, const char *v) {
    const char *host = v, *colon;
    size_t hl;
    if (v[0] == '[') { /* [v6]:port */
        const char *close = strchr(v, ']');
        if (!close) return lm_err_code(LM_EINVAL, "--master %s: missing ']'", v);
        host = v + 1;
        hl = (size_t)(close - host);
        colon = close[1] == ':' ? close + 1 : NULL;
        if (close[1] && !colon) return lm_err_code(LM_EINVAL, "--master %s: expected [ADDR]:PORT", v);
    } else {
        colon = strrchr(v, ':');
        hl = colon ? (size_t)(colon - v) : strlen(v);
    }
    if (hl == 0) return lm_err_code(LM_EINVAL, "--master %s: empty address", v);
    if (hl >= sizeof o->master_addr) return lm_err_code(LM_EINVAL, "--master: address longer than %zu bytes",
                                                       sizeof o->master_addr - 1);
    memcpy(o->master_addr, host, hl);
    o->master_addr[hl] = 0;
    if (colon && lm_flag_int("--master port", colon + 1, 0, 65535, &o->master_port) < 0) return LM_EINVAL;
    return 0;
}

int lm_launch_take_args(lm_launch_opts *o, int *argc, char **argv) {
    *o = lm_launch_defaults();
    int out = 0, have_master = 0, have_nnodes = 0, have_rank = 0;
    for (int i = 0; i < *argc; i++) {
        const char *a = argv[i];
        static const char *const names[] = {"--nproc-per-node", "--nnodes", "--node-rank", "--master"};
        int k = -1;
        const char *v = NULL;
        for (int j = 0; j < 4 && i > 0; j++) {
            size_t n = strlen(names[j]);
            if (!strncmp(a, names[j], n) && (a[n] == 0 || a[n] == '=')) {
                k = j;
                v = a[n] == '=' ? a + n + 1 : NULL;
            }
        }
        if (k < 0) {
            argv[out++] = argv[i];
            continue;
        }
        if (!v) {
            if (i + 1 >= *argc) return lm_err_code(LM_EINVAL, "%s needs a value", names[k]);
            v = argv[++i];
        }
        int rc = 0;
        if (k == 0) rc = lm_flag_int(names[k], v, 1, 4096, &o->nproc_per_node);
        else if (k == 1) rc = lm_flag_int(names[k], v, 1, 1 << 20, &o->nnodes), have_nnodes = 1;
        else if (k == 2) rc = lm_flag_int(names[k], v, 0, 1 << 20, &o->node_rank), have_rank = 1;
        else rc = parse_master(o, v), have_master = 1;
        if (rc < 0) return rc;
    }
    *argc = out;
    argv[out] = NULL;
    if ((have_nnodes || have_rank || have_master) && !o->nproc_per_node)
        return lm_err_code(LM_EINVAL, "--nnodes, --node-rank and --master go with --nproc-per-node");
    if (o->node_rank >= o->nnodes)
        return lm_err_code(LM_EINVAL, "--node-rank %d must be below --nnodes %d", o->node_rank, o->nnodes);
    if (o->nnodes > 1 && (!have_master || o->master_port == 0))
        return lm_err_code(LM_EINVAL, "--nnodes %d needs --master ADDR:PORT (the address of node 0, the same on "
                                      "every node)", o->nnodes);
    return 0;
}

int lm_launch_workers(const lm_launch_opts *o, int argc, char **argv, const char *group) {
    int skip = group ? 2 : 1; /* "lamac" [group] */
    char **wargv = calloc((size_t)argc + (size_t)skip + 1, sizeof *wargv);
    if (!wargv) return lm_err_code(LM_ENOMEM, "launch: out of memory");
    wargv[0] = "lamac";
    if (group) wargv[1] = (char *)group;
    for (int i = 0; i < argc; i++) wargv[i + skip] = argv[i];
    int rc = lm_launch_run(o, NULL, wargv);
    free(wargv);
    return rc;
}
