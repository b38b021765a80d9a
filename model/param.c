/* param.c — the parameter registry (see param.h). */
#include "model/param.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "model/lt_err.h"

void lm_params_init(lm_params *p, lt_dtype dtype, lt_device device) {
    memset(p, 0, sizeof *p);
    p->dtype = dtype;
    p->device = device;
}

void lm_params_free(lm_params *p) {
    if (!p) return;
    for (int i = 0; i < p->n; i++) {
        free(p->items[i].name);
        lt_free(p->items[i].t);
    }
    free(p->items);
    p->items = NULL;
    p->n = p->cap = 0;
}

int lm_params_push(lm_params *p, const char *fmt, ...) {
    p->depth++;
    if (p->bad_depth) /* a level above failed: stay failed until it is popped */
        return lm_err_code(LM_EINVAL, "%s", p->bad_msg);
    char part[LM_PREFIX_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(part, sizeof part, fmt, ap);
    va_end(ap);
    int len = (int)strlen(p->prefix);
    if (p->depth > LM_PREFIX_DEPTH) {
        snprintf(p->bad_msg, sizeof p->bad_msg,
                 "parameter prefix %s%.40s: nested deeper than %d levels", p->prefix, part,
                 LM_PREFIX_DEPTH);
    } else if (n < 0 || len + n + 1 >= (int)sizeof p->prefix) {
        snprintf(p->bad_msg, sizeof p->bad_msg,
                 "parameter prefix %s%.40s%s.: %d bytes do not fit in %d", p->prefix, part,
                 n > 40 ? "..." : "", len + n + 1, LM_PREFIX_MAX - 1);
    } else {
        p->prefix_len[p->depth - 1] = len;
        memcpy(p->prefix + len, part, (size_t)n);
        p->prefix[len + n] = '.';
        p->prefix[len + n + 1] = 0;
        return 0;
    }
    p->bad_depth = p->depth;
    return lm_err_code(LM_EINVAL, "%s", p->bad_msg);
}

void lm_params_pop(lm_params *p) {
    if (p->depth <= 0) return;
    p->depth--;
    if (p->bad_depth) { /* failed levels left the prefix as it was before them */
        if (p->depth < p->bad_depth) p->bad_depth = 0;
        return;
    }
    p->prefix[p->prefix_len[p->depth]] = 0;
}

lt_tensor *lm_params_add(lm_params *p, const char *name, lt_tensor *t, lm_param_kind kind) {
    char full[LM_PREFIX_MAX + 128];
    if (p->bad_depth) {
        lt_free(t);
        lm_err_code(LM_EINVAL, "%s", p->bad_msg);
        return NULL;
    }
    if (snprintf(full, sizeof full, "%s%s", p->prefix, name) >= (int)sizeof full) {
        lt_free(t);
        lm_err_code(LM_EINVAL, "parameter %s%.40s...: name longer than %zu bytes", p->prefix, name,
                    sizeof full - 1);
        return NULL;
    }
    if (!t) {
        lm_err_lt("parameter %s", full);
        return NULL;
    }
    if (!lt_keep(t)) { /* t belongs to another thread's scope: that scope will free it */
        lm_err_lt("parameter %s", full);
        return NULL;
    }
    if (lm_params_find(p, full)) {
        lt_free(t);
        lm_err_set("parameter %s registered twice", full);
        return NULL;
    }
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 64;
        lm_param *items = realloc(p->items, (size_t)cap * sizeof *items);
        if (!items) {
            lt_free(t);
            lm_err_code(LM_ENOMEM, "parameter %s: out of memory", full);
            return NULL;
        }
        p->items = items;
        p->cap = cap;
    }
    if (kind == LM_PARAM && lt_set_requires_grad(t, 1) < 0) {
        lt_free(t);
        lm_err_lt("parameter %s", full);
        return NULL;
    }
    p->items[p->n++] = (lm_param){strdup(full), t, kind};
    return t;
}

lm_param *lm_params_find(const lm_params *p, const char *name) {
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->items[i].name, name)) return &p->items[i];
    return NULL;
}

int64_t lm_params_numel(const lm_params *p, int kinds) {
    int64_t n = 0;
    for (int i = 0; i < p->n; i++)
        if (p->items[i].kind & kinds) n += lt_numel(p->items[i].t);
    return n;
}

int lm_params_set_trainable(lm_params *p, int on) {
    for (int i = 0; i < p->n; i++)
        if (p->items[i].kind == LM_PARAM && lt_set_requires_grad(p->items[i].t, on) < 0)
            return lm_err_lt("parameter %s", p->items[i].name);
    return 0;
}

void lm_params_zero_grad(lm_params *p) {
    for (int i = 0; i < p->n; i++)
        if (p->items[i].kind == LM_PARAM) lt_zero_grad(p->items[i].t);
}

int lm_params_randomize(lm_params *p, uint64_t seed) {
    int rc = 0;
    lt_manual_seed(seed);
    lt_no_grad_push();
    for (int k = 0; k < p->n && !rc; k++) {
        lt_tensor *t = p->items[k].t;
        if (lt_type(t) != LT_F32) continue;
        const char *leaf = strrchr(p->items[k].name, '.');
        leaf = leaf ? leaf + 1 : p->items[k].name;
        int64_t shp[4];
        int dim = lt_shape(t, shp, 4);
        double a, c = 0;
        if (dim == 4) a = sqrt(3.0 / (double)(shp[1] * shp[2] * shp[3]));
        else if (!strcmp(leaf, "running_var")) a = 0.5, c = 1.0;
        else if (!strcmp(leaf, "weight")) a = 0.1, c = 1.0;
        else a = 0.05; /* bias, running_mean */
        if (!lt_uniform_(t, c - a, c + a)) rc = lm_err_lt("randomize %s", p->items[k].name);
    }
    lt_no_grad_pop();
    return rc;
}
