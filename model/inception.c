/* inception.c — pytorch-fid's FID Inception (official losses/fid/inception.py). */
#include "model/inception.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "model/lt_err.h"

typedef struct bconv { /* BasicConv2d */
    lt_tensor *w;      /* (Cout, Cin, kh, kw) */
    lm_bn bn;
    int kh, kw, stride, ph, pw;
} bconv;

/* Mixed blocks; unused members stay zeroed. */
typedef struct blockA { bconv b1, b5_1, b5_2, b3_1, b3_2, b3_3, pool; } blockA;
typedef struct blockB { bconv b3, bd_1, bd_2, bd_3; } blockB;
typedef struct blockC { bconv b1, b7_1, b7_2, b7_3, bd_1, bd_2, bd_3, bd_4, bd_5, pool; } blockC;
typedef struct blockD { bconv b3_1, b3_2, b7_1, b7_2, b7_3, b7_4; } blockD;
typedef struct blockE { bconv b1, b3_1, b3_2a, b3_2b, bd_1, bd_2, bd_3a, bd_3b, pool; } blockE;

struct lm_inception {
    lm_params p;
    bconv c1a, c2a, c2b, c3b, c4a;
    blockA m5b, m5c, m5d;
    blockB m6a;
    blockC m6b, m6c, m6d, m6e;
    blockD m7a;
    blockE m7b, m7c;
};

static int bc(bconv *c, lm_params *p, const char *name, int cin, int cout, int kh, int kw,
              int stride, int ph, int pw) {
    char key[128];
    *c = (bconv){.kh = kh, .kw = kw, .stride = stride, .ph = ph, .pw = pw};
    int64_t s[4] = {cout, cin, kh, kw};
    snprintf(key, sizeof key, "%s.conv.weight", name);
    if (!(c->w = lm_params_add(p, key, lt_zeros(s, 4, p->dtype, p->device), LM_PARAM))) return -1;
    snprintf(key, sizeof key, "%s.bn", name);
    if (lm_bn_init(&c->bn, p, key, cout) < 0) return -1;
    c->bn.eps = 1e-3;
    return 0;
}

static lt_tensor *bc_fwd(const bconv *c, lt_tensor *x) {
    lt_tensor *y;
    if (c->ph == c->pw) {
        y = lt_conv2d(x, c->w, NULL, c->stride, c->ph, 1, 1);
    } else { /* (1, 7) / (7, 1) kernels: zero-pad explicitly, the shim's padding is square */
        int64_t pad[4] = {c->pw, c->pw, c->ph, c->ph};
        y = lt_conv2d(lt_pad(x, pad, 4, LT_PAD_CONSTANT, 0.0), c->w, NULL, c->stride, 0, 1, 1);
    }
    return lt_relu(lm_bn_forward(&c->bn, y, 0));
}

#define N(s) (snprintf(nm, sizeof nm, "%s.%s", pre, s), nm)

static int initA(blockA *b, lm_params *p, const char *pre, int cin, int pool) {
    char nm[96];
    return bc(&b->b1, p, N("branch1x1"), cin, 64, 1, 1, 1, 0, 0) |
           bc(&b->b5_1, p, N("branch5x5_1"), cin, 48, 1, 1, 1, 0, 0) |
           bc(&b->b5_2, p, N("branch5x5_2"), 48, 64, 5, 5, 1, 2, 2) |
           bc(&b->b3_1, p, N("branch3x3dbl_1"), cin, 64, 1, 1, 1, 0, 0) |
           bc(&b->b3_2, p, N("branch3x3dbl_2"), 64, 96, 3, 3, 1, 1, 1) |
           bc(&b->b3_3, p, N("branch3x3dbl_3"), 96, 96, 3, 3, 1, 1, 1) |
           bc(&b->pool, p, N("branch_pool"), cin, pool, 1, 1, 1, 0, 0);
}
static int initB(blockB *b, lm_params *p, const char *pre, int cin) {
    char nm[96];
    return bc(&b->b3, p, N("branch3x3"), cin, 384, 3, 3, 2, 0, 0) |
           bc(&b->bd_1, p, N("branch3x3dbl_1"), cin, 64, 1, 1, 1, 0, 0) |
           bc(&b->bd_2, p, N("branch3x3dbl_2"), 64, 96, 3, 3, 1, 1, 1) |
           bc(&b->bd_3, p, N("branch3x3dbl_3"), 96, 96, 3, 3, 2, 0, 0);
}
static int initC(blockC *b, lm_params *p, const char *pre, int cin, int c7) {
    char nm[96];
    return bc(&b->b1, p, N("branch1x1"), cin, 192, 1, 1, 1, 0, 0) |
           bc(&b->b7_1, p, N("branch7x7_1"), cin, c7, 1, 1, 1, 0, 0) |
           bc(&b->b7_2, p, N("branch7x7_2"), c7, c7, 1, 7, 1, 0, 3) |
           bc(&b->b7_3, p, N("branch7x7_3"), c7, 192, 7, 1, 1, 3, 0) |
           bc(&b->bd_1, p, N("branch7x7dbl_1"), cin, c7, 1, 1, 1, 0, 0) |
           bc(&b->bd_2, p, N("branch7x7dbl_2"), c7, c7, 7, 1, 1, 3, 0) |
           bc(&b->bd_3, p, N("branch7x7dbl_3"), c7, c7, 1, 7, 1, 0, 3) |
           bc(&b->bd_4, p, N("branch7x7dbl_4"), c7, c7, 7, 1, 1, 3, 0) |
           bc(&b->bd_5, p, N("branch7x7dbl_5"), c7, 192, 1, 7, 1, 0, 3) |
           bc(&b->pool, p, N("branch_pool"), cin, 192, 1, 1, 1, 0, 0);
}
static int initD(blockD *b, lm_params *p, const char *pre, int cin) {
    char nm[96];
    return bc(&b->b3_1, p, N("branch3x3_1"), cin, 192, 1, 1, 1, 0, 0) |
           bc(&b->b3_2, p, N("branch3x3_2"), 192, 320, 3, 3, 2, 0, 0) |
           bc(&b->b7_1, p, N("branch7x7x3_1"), cin, 192, 1, 1, 1, 0, 0) |
           bc(&b->b7_2, p, N("branch7x7x3_2"), 192, 192, 1, 7, 1, 0, 3) |
           bc(&b->b7_3, p, N("branch7x7x3_3"), 192, 192, 7, 1, 1, 3, 0) |
           bc(&b->b7_4, p, N("branch7x7x3_4"), 192, 192, 3, 3, 2, 0, 0);
}
static int initE(blockE *b, lm_params *p, const char *pre, int cin) {
    char nm[96];
    return bc(&b->b1, p, N("branch1x1"), cin, 320, 1, 1, 1, 0, 0) |
           bc(&b->b3_1, p, N("branch3x3_1"), cin, 384, 1, 1, 1, 0, 0) |
           bc(&b->b3_2a, p, N("branch3x3_2a"), 384, 384, 1, 3, 1, 0, 1) |
           bc(&b->b3_2b, p, N("branch3x3_2b"), 384, 384, 3, 1, 1, 1, 0) |
           bc(&b->bd_1, p, N("branch3x3dbl_1"), cin, 448, 1, 1, 1, 0, 0) |
           bc(&b->bd_2, p, N("branch3x3dbl_2"), 448, 384, 3, 3, 1, 1, 1) |
           bc(&b->bd_3a, p, N("branch3x3dbl_3a"), 384, 384, 1, 3, 1, 0, 1) |
           bc(&b->bd_3b, p, N("branch3x3dbl_3b"), 384, 384, 3, 1, 1, 1, 0) |
           bc(&b->pool, p, N("branch_pool"), cin, 192, 1, 1, 1, 0, 0);
}

int lm_inception_create(lm_inception **out, lt_dtype dt, lt_device dev) {
    *out = NULL;
    lm_inception *n = calloc(1, sizeof *n);
    if (!n) return lm_err_code(LM_ENOMEM, "inception: out of memory");
    lm_params_init(&n->p, dt, dev);
    lm_params *p = &n->p;
    int rc = bc(&n->c1a, p, "Conv2d_1a_3x3", 3, 32, 3, 3, 2, 0, 0) |
             bc(&n->c2a, p, "Conv2d_2a_3x3", 32, 32, 3, 3, 1, 0, 0) |
             bc(&n->c2b, p, "Conv2d_2b_3x3", 32, 64, 3, 3, 1, 1, 1) |
             bc(&n->c3b, p, "Conv2d_3b_1x1", 64, 80, 1, 1, 1, 0, 0) |
             bc(&n->c4a, p, "Conv2d_4a_3x3", 80, 192, 3, 3, 1, 0, 0) |
             initA(&n->m5b, p, "Mixed_5b", 192, 32) | initA(&n->m5c, p, "Mixed_5c", 256, 64) |
             initA(&n->m5d, p, "Mixed_5d", 288, 64) | initB(&n->m6a, p, "Mixed_6a", 288) |
             initC(&n->m6b, p, "Mixed_6b", 768, 128) | initC(&n->m6c, p, "Mixed_6c", 768, 160) |
             initC(&n->m6d, p, "Mixed_6d", 768, 160) | initC(&n->m6e, p, "Mixed_6e", 768, 192) |
             initD(&n->m7a, p, "Mixed_7a", 768) | initE(&n->m7b, p, "Mixed_7b", 1280) |
             initE(&n->m7c, p, "Mixed_7c", 2048);
    if (rc) {
        lm_inception_free(n);
        return lm_err_lt("inception: building the network");
    }
    lm_params_set_trainable(p, 0);
    *out = n;
    return 0;
}

void lm_inception_free(lm_inception *n) {
    if (!n) return;
    lm_params_free(&n->p);
    free(n);
}

lm_params *lm_inception_params(lm_inception *n) { return &n->p; }

/* avg_pool2d(3, 1, 1, count_include_pad=False) (FIDInception patch) */
static lt_tensor *avg3(lt_tensor *x) { return lt_avg_pool2d(x, 3, 1, 1, 0, 0); }

static lt_tensor *fwdA(const blockA *b, lt_tensor *x) {
    lt_tensor *o[4] = {
        bc_fwd(&b->b1, x),
        bc_fwd(&b->b5_2, bc_fwd(&b->b5_1, x)),
        bc_fwd(&b->b3_3, bc_fwd(&b->b3_2, bc_fwd(&b->b3_1, x))),
        bc_fwd(&b->pool, avg3(x)),
    };
    return lt_cat(o, 4, 1);
}
static lt_tensor *fwdB(const blockB *b, lt_tensor *x) {
    lt_tensor *o[3] = {
        bc_fwd(&b->b3, x),
        bc_fwd(&b->bd_3, bc_fwd(&b->bd_2, bc_fwd(&b->bd_1, x))),
        lt_max_pool2d(x, 3, 2, 0, 1, 0),
    };
    return lt_cat(o, 3, 1);
}
static lt_tensor *fwdC(const blockC *b, lt_tensor *x) {
    lt_tensor *o[4] = {
        bc_fwd(&b->b1, x),
        bc_fwd(&b->b7_3, bc_fwd(&b->b7_2, bc_fwd(&b->b7_1, x))),
        bc_fwd(&b->bd_5, bc_fwd(&b->bd_4, bc_fwd(&b->bd_3, bc_fwd(&b->bd_2, bc_fwd(&b->bd_1, x))))),
        bc_fwd(&b->pool, avg3(x)),
    };
    return lt_cat(o, 4, 1);
}
static lt_tensor *fwdD(const blockD *b, lt_tensor *x) {
    lt_tensor *o[3] = {
        bc_fwd(&b->b3_2, bc_fwd(&b->b3_1, x)),
        bc_fwd(&b->b7_4, bc_fwd(&b->b7_3, bc_fwd(&b->b7_2, bc_fwd(&b->b7_1, x)))),
        lt_max_pool2d(x, 3, 2, 0, 1, 0),
    };
    return lt_cat(o, 3, 1);
}
/* E_1 (Mixed_7b): avg pool without padding counts; E_2 (Mixed_7c): max pool 3/1/1. */
static lt_tensor *fwdE(const blockE *b, lt_tensor *x, int maxpool) {
    lt_tensor *b3 = bc_fwd(&b->b3_1, x);
    lt_tensor *b3p[2] = {bc_fwd(&b->b3_2a, b3), bc_fwd(&b->b3_2b, b3)};
    lt_tensor *bd = bc_fwd(&b->bd_2, bc_fwd(&b->bd_1, x));
    lt_tensor *bdp[2] = {bc_fwd(&b->bd_3a, bd), bc_fwd(&b->bd_3b, bd)};
    lt_tensor *pool = maxpool ? lt_max_pool2d(x, 3, 1, 1, 1, 0) : avg3(x);
    lt_tensor *o[4] = {bc_fwd(&b->b1, x), lt_cat(b3p, 2, 1), lt_cat(bdp, 2, 1),
                       bc_fwd(&b->pool, pool)};
    return lt_cat(o, 4, 1);
}

lt_tensor *lm_inception_features(const lm_inception *n, lt_tensor *x, int resize) {
    if (!x) return NULL;
    if (lt_dim(x) != 4 || lt_size(x, 1) != 3) {
        lt_set_error("inception: expected an (N, 3, H, W) input");
        return NULL;
    }
    if (resize) x = lt_interpolate(x, 299, 299, LT_BILINEAR); // (N, 3, 299, 299)
    x = lt_add_scalar(lt_mul_scalar(x, 2.0), -1.0);
    /* block 0 */
    x = bc_fwd(&n->c2b, bc_fwd(&n->c2a, bc_fwd(&n->c1a, x)));
    x = lt_max_pool2d(x, 3, 2, 0, 1, 0); // (N, 64, 73, 73)
    /* block 1 */
    x = bc_fwd(&n->c4a, bc_fwd(&n->c3b, x));
    x = lt_max_pool2d(x, 3, 2, 0, 1, 0); // (N, 192, 35, 35)
    /* block 2 */
    x = fwdA(&n->m5d, fwdA(&n->m5c, fwdA(&n->m5b, x))); // (N, 288, 35, 35)
    x = fwdB(&n->m6a, x);                                 // (N, 768, 17, 17)
    x = fwdC(&n->m6e, fwdC(&n->m6d, fwdC(&n->m6c, fwdC(&n->m6b, x))));
    /* block 3 */
    x = fwdD(&n->m7a, x);                                 // (N, 1280, 8, 8)
    x = fwdE(&n->m7c, fwdE(&n->m7b, x, 0), 1);            // (N, 2048, 8, 8)
    x = lt_adaptive_avg_pool2d(x, 1, 1);                  // (N, 2048, 1, 1)
    return lt_flatten(x, 1, 3);                           // (N, 2048)
}
