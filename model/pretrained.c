/* pretrained.c — $TORCH_HOME lookup and non-strict loading of pretrained backbones (see
 * pretrained.h); mirrors torch.hub._get_torch_home and nn.Module.load_state_dict(strict=False). */
#include "model/pretrained.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"
#include "model/weights.h"

int lm_torch_home(char *out, size_t cap) {
    const char *th = getenv("TORCH_HOME"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (th && th[0]) {
        if (th[0] == '~' && (th[1] == '/' || !th[1]) && home) /* os.path.expanduser */
            n = snprintf(out, cap, "%s%s", home, th + 1);
        else
            n = snprintf(out, cap, "%s", th);
    } else if (xdg && xdg[0]) {
        n = snprintf(out, cap, "%s/torch", xdg);
    } else if (home && home[0]) {
        n = snprintf(out, cap, "%s/.cache/torch", home);
    } else {
        return lm_err_code(LM_EINVAL, "torch home: neither TORCH_HOME, XDG_CACHE_HOME nor HOME set");
    }
    if (n < 0 || (size_t)n >= cap)
        return lm_err_code(LM_EINVAL, "torch home: path longer than %zu bytes", cap - 1);
    return 0;
}

int lm_pretrained_find(char *out, size_t cap, const char *what, const char *const *cands, int n) {
    struct stat st;
    for (int i = 0; i < n; i++) {
        if (stat(cands[i], &st) == 0 && S_ISREG(st.st_mode)) {
            if (strlen(cands[i]) >= cap)
                return lm_err_code(LM_EINVAL, "%s: path longer than %zu bytes: %s", what, cap - 1,
                                   cands[i]);
            memcpy(out, cands[i], strlen(cands[i]) + 1);
            return 0;
        }
    }
    char list[8192];
    size_t o = 0;
    list[0] = 0;
    for (int i = 0; i < n && o < sizeof list; i++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", cands[i]);
    if (o >= sizeof list) /* not silently: say the list was cut */
        snprintf(list + sizeof list - 5, 5, "...");
    return lm_err_code(LM_EIO, "%s: weights file not found; looked for: %s (fetch with %s)", what,
                       list, LM_PRETRAINED_FETCHER);
}

int lm_pretrained_load(lm_params *p, const char *strip, const char *path, const char *file_prefix,
                       const char *what, int *loaded) {
    size_t sl = strlen(strip);
    if (loaded) *loaded = 0;
    lm_params view = *p; /* same tensors, names without `strip`; only items is ours */
    view.items = malloc((size_t)(p->n ? p->n : 1) * sizeof *view.items);
    if (!view.items) return lm_err_code(LM_ENOMEM, "%s: out of memory", what);
    view.cap = view.n = p->n;
    for (int i = 0; i < p->n; i++) {
        if (strncmp(p->items[i].name, strip, sl) != 0) {
            free(view.items);
            return lm_err_code(LM_EINVAL, "%s: registry key %s lacks the prefix '%s'", what,
                               p->items[i].name, strip);
        }
        view.items[i] = p->items[i];
        view.items[i].name = p->items[i].name + sl;
    }
    lm_weights_src *s = NULL;
    lm_weights_report rep;
    lm_weights_report_init(&rep);
    int rc = lm_weights_open(&s, path);
    if (rc < 0) {
        rc = lm_err_prefix("%s", what);
        goto cleanup;
    }
    if ((rc = lm_weights_load(&view, s, file_prefix, LM_WEIGHTS_NONSTRICT, &rep)) < 0) {
        rc = lm_err_prefix("%s", what);
        goto cleanup;
    }
    int n_miss = 0, n_nbt = 0, n_unexp = 0, first_miss = -1, first_unexp = -1, n_bad = 0;
    for (int i = 0; i < rep.n; i++) {
        lm_weights_mismatch *m = &rep.items[i];
        if (m->problem == LM_WP_MISSING) {
            /* BatchNorm's _load_from_state_dict sets an absent num_batches_tracked to 0 for
             * files from before it existed (the CSAIL encoders); ours starts at 0 */
            size_t kl = strlen(m->key);
            if (kl >= 19 && !strcmp(m->key + kl - 19, "num_batches_tracked")) {
                n_nbt++;
                continue;
            }
            if (!n_miss++) first_miss = i;
        } else if (m->problem == LM_WP_UNEXPECTED) {
            if (!n_unexp++) first_unexp = i;
        } else {
            n_bad++;
        }
    }
    if (n_bad) { /* torch: "Error(s) in loading state_dict ... size mismatch for KEY" */
        fprintf(stderr, "%s: %s does not fit the network:\n", what, path);
        for (int i = 0; i < rep.n; i++) {
            lm_weights_mismatch *m = &rep.items[i];
            if (m->problem == LM_WP_SHAPE || m->problem == LM_WP_DTYPE)
                fprintf(stderr, "  %s: expected %s, found %s (%s)\n", m->key, m->expected,
                        m->found, lm_weights_problem_name(m->problem));
        }
        for (int i = 0; i < rep.n; i++) {
            lm_weights_mismatch *m = &rep.items[i];
            if (m->problem == LM_WP_SHAPE || m->problem == LM_WP_DTYPE) {
                rc = lm_err_code(LM_EINVAL, "%s: weights %s: %d tensor%s of the wrong shape or "
                                 "dtype (first: %s: expected %s, found %s); the official "
                                 "load_state_dict(strict=False) refuses this too", what, path,
                                 n_bad, n_bad > 1 ? "s" : "", m->key, m->expected, m->found);
                break;
            }
        }
        goto cleanup;
    }
    struct stat st;
    long long size = stat(path, &st) == 0 ? (long long)st.st_size : -1;
    fprintf(stderr, "%s: loaded %d of %d tensors from %s (%s, %lld bytes); %d missing%s%s%s, "
            "%d unexpected%s%s%s, %d num_batches_tracked absent (0)\n", what, rep.loaded, p->n,
            path, lm_weights_kind(s), size, n_miss, n_miss ? " (first: " : "",
            n_miss ? rep.items[first_miss].key : "", n_miss ? ")" : "", n_unexp,
            n_unexp ? " (first: " : "", n_unexp ? rep.items[first_unexp].key : "",
            n_unexp ? ")" : "", n_nbt);
    if (loaded) *loaded = rep.loaded;
    rc = 0;
cleanup:
    lm_weights_report_free(&rep);
    lm_weights_close(s);
    free(view.items);
    return rc;
}

int lm_pretrained_attach(lm_params *p, const char *strip, const char *file_prefix, const char *what,
                         const char *net, const char *const *cands, int n, int random_ok,
                         char *source, size_t source_cap) {
    char path[8192]; /* holds any candidate (callers' buffers are at most 4200 bytes) */
    int rc = lm_pretrained_find(path, sizeof path, what, cands, n);
    if (rc < 0) {
        if (!random_ok) return rc;
        fprintf(stderr, "%s; using random %s weights\n", lm_err_msg(), net);
        lm_err_clear();
        snprintf(source, source_cap, "random (file missing)");
    } else {
        if ((rc = lm_pretrained_load(p, strip, path, file_prefix, what, NULL)) < 0) return rc;
        snprintf(source, source_cap, "%s", path);
    }
    return lm_params_set_trainable(p, 0);
}
