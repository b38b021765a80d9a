/* params_file.c — gradients and buffers into safetensors files (see params_file.h). */
#include "run/params_file.h"

#include <stdio.h>
#include <stdlib.h>

#include "model/lt_err.h"

int lm_params_file_grads(const char *path, lm_params *const *ps, const char *const *prefixes, int n) {
    lm_safetensors_writer *w;
    int rc = lm_safetensors_writer_open(&w, path);
    if (rc < 0) return rc;
    for (int k = 0; k < n && !rc; k++)
        for (int i = 0; i < ps[k]->n && !rc; i++) {
            lm_param *it = &ps[k]->items[i];
            if (it->kind != LM_PARAM || !lt_has_grad(it->t)) continue;
            lt_scope_push();
            lt_tensor *g = lt_contiguous(lt_grad_of(it->t));
            int64_t sh[8];
            int nd = lt_shape(g, sh, 8);
            size_t bytes = (size_t)lt_numel(g) * sizeof(float);
            float *buf = malloc(bytes ? bytes : 1);
            char name[512];
            snprintf(name, sizeof name, "%s%s", prefixes[k], it->name);
            if (!g || nd < 0 || !buf || lt_to_buffer(g, buf, bytes) < 0) rc = lm_err_lt("gradient of %s", name);
            else rc = lm_safetensors_writer_add(w, name, LM_DT_F32, sh, nd, buf, bytes);
            free(buf);
            lt_scope_pop();
        }
    if (rc) {
        lm_safetensors_writer_abort(w);
        return rc;
    }
    return lm_safetensors_writer_close(w);
}

int lm_params_file_add(lm_safetensors_writer *w, lm_params *p, int kind, const char *prefix) {
    int rc = 0;
    for (int i = 0; i < p->n && !rc; i++) {
        lm_param *it = &p->items[i];
        if ((int)it->kind != kind || lt_type(it->t) != LT_F32 || (kind == LM_PARAM && !lt_has_grad(it->t))) continue;
        lt_scope_push();
        lt_tensor *t = lt_contiguous(kind == LM_PARAM ? lt_grad_of(it->t) : lt_alias(it->t));
        int64_t sh[8];
        int nd = lt_shape(t, sh, 8);
        char name[512];
        snprintf(name, sizeof name, "%s%s", prefix, it->name);
        if (!t || nd < 0) rc = lm_err_lt("%s", name);
        else rc = lm_safetensors_writer_add(w, name, LM_DT_F32, sh, nd, lt_data(t), (size_t)lt_numel(t) * sizeof(float));
        lt_scope_pop();
    }
    return rc;
}

