/* refine.c — the Big-LaMa feature refinement (see refine.h; official
 * saicinpainting/evaluation/refinement.py: _pyrdown, _pyrdown_mask, _erode_mask, _l1_loss,
 * _infer, _get_image_mask_pyramid, refine_predict; torch.optim.Adam's single-tensor update of
 * torch 1.13; kornia 0.5.0's gaussian_blur2d, resize and erosion for the arguments used). */
#include "eval/refine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "model/lt_err.h"

#define EPS 1e-8      /* the official thresholds' eps */
#define ERODE_SIZE 15 /* cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15)) */
#define ADAM_B1 0.9   /* torch.optim.Adam defaults */
#define ADAM_B2 0.999
#define ADAM_EPS 1e-8

lm_refine_opts lm_refine_defaults(void) {
    return (lm_refine_opts){.n_iters = 15, .lr = 0.002, .min_side = 512, .max_scales = 3,
                            .px_budget = 1800000, .modulo = 8, .checkpoint = 1};
}

int lm_refine_plan(const lm_refine_opts *o, int h, int w, int *rh, int *rw, int *resized,
                   int *n_scales) {
    if (o->n_iters < 1) return lm_err_code(LM_EINVAL, "refiner.n_iters: %d (needs >= 1)", o->n_iters);
    if (!(o->lr > 0) || !isfinite(o->lr)) return lm_err_code(LM_EINVAL, "refiner.lr: %g (needs > 0)", o->lr);
    if (o->min_side < 1) return lm_err_code(LM_EINVAL, "refiner.min_side: %d (needs >= 1)", o->min_side);
    if (o->max_scales < 1)
        return lm_err_code(LM_EINVAL, "refiner.max_scales: %d (needs >= 1)", o->max_scales);
    if (!(o->px_budget >= 1) || !isfinite(o->px_budget))
        return lm_err_code(LM_EINVAL, "refiner.px_budget: %g (needs >= 1)", o->px_budget);
    if (o->modulo < 1) return lm_err_code(LM_EINVAL, "refiner.modulo: %d (needs >= 1)", o->modulo);
    if (h < 1 || w < 1) return lm_err_code(LM_EINVAL, "refine: empty image (%dx%d)", w, h);
    *rh = h;
    *rw = w;
    *resized = 0;
    if ((double)h * w > o->px_budget) { /* ratio = sqrt(px_budget / (h * w)); int(h * ratio) */
        double r = sqrt(o->px_budget / ((double)h * w));
        *rh = (int)(h * r);
        *rw = (int)(w * r);
        *resized = 1;
        if (*rh < 1 || *rw < 1)
            return lm_err_code(LM_EINVAL, "refiner.px_budget: %g leaves nothing of a %dx%d image",
                               o->px_budget, w, h);
    }
    int breadth = *rh < *rw ? *rh : *rw;
    /* min(1 + int(round(max(0, log2(breadth / min_side)))), max_scales); round half to even */
    int n = 1 + (int)rint(fmax(0.0, log2((double)breadth / o->min_side)));
    *n_scales = n < o->max_scales ? n : o->max_scales;
    return 0;
}

void lm_refine_ellipse(uint8_t *k, int size) {
    /* OpenCV getStructuringElement, MORPH_ELLIPSE, anchor at the centre */
    int r = size / 2, c = size / 2;
    double inv_r2 = r ? 1.0 / ((double)r * r) : 0;
    for (int i = 0; i < size; i++) {
        int j1 = 0, j2 = 0, dy = i - r;
        if (size == 1) j2 = 1; /* ksize (1, 1) is a rectangle */
        else if (abs(dy) <= r) {
            int dx = (int)lrint(c * sqrt((r * r - dy * dy) * inv_r2)); /* saturate_cast<int> */
            j1 = c - dx > 0 ? c - dx : 0;
            j2 = c + dx + 1 < size ? c + dx + 1 : size;
        }
        for (int j = 0; j < size; j++) k[i * size + j] = j >= j1 && j < j2;
    }
}

/* ---- the image operations (kornia 0.5.0 semantics) ------------------------------------------- */

/* kornia get_gaussian_kernel2d((5, 5), (1., 1.)) as (c, 1, 5, 5) in dt: the 1-D kernel
 * exp(-x^2 / 2) / sum over x = -2..2, computed in float32 (kornia builds it in the default
 * dtype and casts it to the input's), then the outer product (matmul) in float32. */
static lt_tensor *gauss_kernel(int64_t c, lt_dtype dt, lt_device dev) {
    const float x[5] = {-2, -1, 0, 1, 2};
    int64_t n5 = 5, col[2] = {5, 1}, row[2] = {1, 5}, shp[4] = {1, 1, 5, 5}, rep[4] = {c, 1, 1, 1};
    lt_tensor *g = lt_exp(lt_div(lt_neg(lt_pow_scalar(lt_from_buffer(x, &n5, 1, LT_F32), 2.0)),
                                 lt_scalar(2.0, LT_F32, LT_CPU)));
    g = lt_div(g, lt_sum(g));
    lt_tensor *k = lt_matmul(lt_reshape(g, col, 2), lt_reshape(g, row, 2)); /* (5, 5) */
    k = lt_to_dtype(lt_reshape(k, shp, 4), dt);
    if (dev != LT_CPU) k = lt_to_device(k, dev);
    return lt_contiguous(lt_repeat(k, rep, 4));
}

/* kornia gaussian_blur2d(x, (5, 5), (1., 1.)): reflect padding 2, depthwise conv. */
static lt_tensor *blur5(lt_tensor *x) {
    int64_t pad[4] = {2, 2, 2, 2};
    int64_t c = lt_size(x, 1);
    return lt_conv2d(lt_pad(x, pad, 4, LT_PAD_REFLECT, 0), gauss_kernel(c, lt_type(x), lt_device_of(x)),
                     NULL, 1, 0, 1, (int)c);
}

/* official _pyrdown / _pyrdown_mask's resize: to (H // 2, W // 2), bilinear, align_corners
 * False, optionally blurred first. */
static lt_tensor *pyrdown(lt_tensor *x, int blur) {
    int64_t h = lt_size(x, 2), w = lt_size(x, 3);
    return lt_interpolate(blur ? blur5(x) : x, h / 2, w / 2, LT_BILINEAR);
}

/* x[x >= t] = 1; x[x < t] = 0 (t compared in x's dtype, as torch compares with a scalar). */
static lt_tensor *binarize_ge(lt_tensor *x, double t) {
    return lt_rsub_scalar(lt_to_dtype(lt_lt_scalar(x, t), lt_type(x)), 1.0);
}

/* kornia 0.5.0 erosion(m, ellipse) for a 0/1 mask m (1, 1, h, w): the minimum over the
 * ellipse, the outside counting as 1 (padding value 1; newer kornia's 'geodesic' border is
 * the same). For 0/1 values that is "no hole pixel under the ellipse": a convolution of the
 * holes with the ellipse, zero-padded, is 0 exactly there. */
static lt_tensor *erode(lt_tensor *m) {
    uint8_t k8[ERODE_SIZE * ERODE_SIZE];
    float kf[ERODE_SIZE * ERODE_SIZE];
    lm_refine_ellipse(k8, ERODE_SIZE);
    for (int i = 0; i < ERODE_SIZE * ERODE_SIZE; i++) kf[i] = k8[i];
    int64_t shp[4] = {1, 1, ERODE_SIZE, ERODE_SIZE}, r = ERODE_SIZE / 2, pad[4] = {r, r, r, r};
    lt_tensor *k = lt_to_dtype(lt_from_buffer(kf, shp, 4, LT_F32), lt_type(m));
    if (lt_device_of(m) != LT_CPU) k = lt_to_device(k, lt_device_of(m));
    lt_tensor *holes = lt_pad(lt_rsub_scalar(m, 1.0), pad, 4, LT_PAD_CONSTANT, 0);
    lt_tensor *hit = lt_conv2d(holes, k, NULL, 1, 0, 1, 1); /* small integers: exact */
    return lt_to_dtype(lt_lt_scalar(hit, 0.5), lt_type(m));
}

/* pad_tensor_to_modulo: bottom/right to a multiple of mod, torch reflect mode. */
static lt_tensor *pad_modulo(lt_tensor *x, int mod) {
    int64_t h = lt_size(x, 2), w = lt_size(x, 3);
    int64_t H = h % mod ? (h / mod + 1) * mod : h, W = w % mod ? (w / mod + 1) * mod : w;
    if (H == h && W == w) return lt_alias(x);
    int64_t pad[4] = {0, W - w, 0, H - h};
    return lt_pad(x, pad, 4, LT_PAD_REFLECT, 0);
}

/* x[:, :, :h, :w] as a view (strided like the official slice: libtorch's bilinear kernel
 * rounds its weights differently for a strided and a contiguous input, which decides whether
 * a resized all-ones area stays exactly 1 — and so the mask thresholds at 1 - 1e-8). */
static lt_tensor *crop_view(lt_tensor *x, int64_t h, int64_t w) {
    return lt_narrow(lt_narrow(x, 2, 0, h), 3, 0, w);
}

static lt_tensor *crop(lt_tensor *x, int64_t h, int64_t w) { return lt_contiguous(crop_view(x, h, w)); }

/* ---- one level (official _infer) -------------------------------------------------------------- */

typedef struct level_ctx {
    lm_generator *g;
    const lm_refine_opts *o;
    lt_tensor *img, *known;   /* (1, 3, H, W) padded image; (mask < 1e-8) repeated to 3 channels */
    lt_tensor *ref, *md3;     /* (1, 3, h/2, w/2): previous level's result, eroded mask_d x 3 */
    double n_known, n_md;     /* element counts of the two masks (the means' divisors) */
    int64_t h, w;             /* the level's size before padding */
} level_ctx;

/* The official _l1_loss on a prediction that carries the graph; NULL when neither term has
 * a pixel (the official loss is NaN then and its gradient zero). */
static lt_tensor *level_loss(const level_ctx *c, lt_tensor *pred) {
    lt_dtype dt = lt_type(pred);
    lt_tensor *loss = NULL;
    if (c->n_known > 0) /* mean |pred - image| over mask < 1e-8 */
        loss = lt_div(lt_sum(lt_mul(lt_abs(lt_sub(pred, c->img)), c->known)),
                      lt_scalar(c->n_known, dt, LT_CPU));
    if (c->n_md > 0) { /* + mean |pyrdown(pred[:h, :w]) - ref| over mask_d >= 1e-8 */
        lt_tensor *pd = pyrdown(crop_view(pred, c->h, c->w), 1);
        lt_tensor *l2 = lt_div(lt_sum(lt_mul(lt_abs(lt_sub(pd, c->ref)), c->md3)),
                               lt_scalar(c->n_md, dt, LT_CPU));
        loss = loss ? lt_add(loss, l2) : l2;
    }
    return loss;
}

/* d loss / d (z_l, z_g) through the whole rear graph (plain autograd). */
static int grads_plain(const level_ctx *c, lt_tensor *z[2], lt_tensor *gz[2], double *loss_v) {
    lt_tensor *pred = lm_generator_rear(c->g, z[0], z[1], 0);
    if (!pred) return -1;
    lt_tensor *loss = level_loss(c, pred);
    if (!loss) return lm_err_lt("refine: loss");
    if (loss_v) *loss_v = lt_item(loss);
    if (lt_grad(&loss, 1, z, 2, 0, gz) < 0) return lm_err_lt("refine: backward");
    return 0;
}

/* The same with the rear blocks checkpointed: their forward without autograd keeping each
 * block's input, the tail with autograd, then block by block from the last: recompute with
 * autograd from the kept input, pass the gradient through (vector-Jacobian product). */
static int grads_checkpoint(const level_ctx *c, lt_tensor *z[2], lt_tensor *gz[2], double *loss_v) {
    int nb = lm_generator_rear_blocks(c->g);
    if (nb < 0) return -1;
    lt_tensor **b = calloc((size_t)(nb + 1) * 2, sizeof *b); /* b[2i], b[2i+1]: block i's input */
    lt_tensor *gl = NULL, *gg = NULL;
    int rc = 0;
    if (!b) return lm_err_code(LM_ENOMEM, "refine: out of memory");
    b[0] = z[0];
    b[1] = z[1];
    lt_no_grad_push();
    for (int i = 0; i < nb && !rc; i++) {
        rc = lm_generator_rear_block(c->g, i, b[2 * i], b[2 * i + 1], 0, &b[2 * i + 2], &b[2 * i + 3]);
        if (!rc && (!lt_keep(b[2 * i + 2]) || !lt_keep(b[2 * i + 3]))) rc = lm_err_lt("refine: keep");
    }
    lt_no_grad_pop();
    if (rc) goto cleanup;
    lt_scope_push(); /* the tail with autograd from the last block's output */
    lt_tensor *x[2] = {lt_detach(b[2 * nb]), lt_detach(b[2 * nb + 1])}, *gx[2] = {NULL, NULL};
    if (lt_set_requires_grad(x[0], 1) < 0 || lt_set_requires_grad(x[1], 1) < 0) {
        rc = lm_err_lt("refine: tail input");
    } else {
        lt_tensor *pred = lm_generator_rear_tail(c->g, x[0], x[1], 0);
        lt_tensor *loss = pred ? level_loss(c, pred) : NULL;
        if (loss_v && loss) *loss_v = lt_item(loss);
        if (!pred) rc = -1;
        else if (!loss) rc = lm_err_lt("refine: loss");
        else if (lt_grad(&loss, 1, x, 2, 0, gx) < 0) rc = lm_err_lt("refine: backward (tail)");
        else {
            gl = lt_keep(gx[0]);
            gg = lt_keep(gx[1]);
        }
    }
    lt_scope_pop();
    for (int i = nb - 1; i >= 0 && !rc; i--) {
        lt_free(b[2 * i + 2]); /* block i's output is no longer needed */
        lt_free(b[2 * i + 3]);
        b[2 * i + 2] = b[2 * i + 3] = NULL;
        lt_scope_push();
        lt_tensor *in[2] = {b[2 * i], b[2 * i + 1]}, *out[2], *go[2] = {gl, gg}, *gi[2] = {NULL, NULL};
        if (i > 0) { /* z itself (the leaf Adam updates) for block 0 */
            in[0] = lt_detach(in[0]);
            in[1] = lt_detach(in[1]);
            if (lt_set_requires_grad(in[0], 1) < 0 || lt_set_requires_grad(in[1], 1) < 0)
                rc = lm_err_lt("refine: block %d input", i);
        }
        if (!rc) rc = lm_generator_rear_block(c->g, i, in[0], in[1], 0, &out[0], &out[1]);
        if (!rc && lt_vjp(out, go, 2, in, 2, 0, gi) < 0) rc = lm_err_lt("refine: backward (block %d)", i);
        if (!rc) {
            lt_free(gl);
            lt_free(gg);
            gl = lt_keep(gi[0]);
            gg = lt_keep(gi[1]);
        }
        lt_scope_pop();
    }
cleanup:
    for (int i = 2; i < 2 * (nb + 1); i++) lt_free(b[i]);
    free(b);
    if (rc) {
        lt_free(gl);
        lt_free(gg);
        return rc;
    }
    gz[0] = gl; /* caller-owned (outside any scope) */
    gz[1] = gg;
    return 0;
}

/* torch.optim.Adam (torch 1.13 single-tensor path, no weight decay / amsgrad), step t. */
static int adam_step(lt_tensor *p, lt_tensor *grad, lt_tensor *m, lt_tensor *v, int t, double lr) {
    double bc1 = 1 - pow(ADAM_B1, t), bc2 = 1 - pow(ADAM_B2, t), step_size = lr / bc1;
    lt_no_grad_push();
    lt_scope_push();
    lt_tensor *r = lt_add_(lt_mul_scalar_(m, ADAM_B1), grad, 1 - ADAM_B1);
    if (r) r = lt_addcmul_(lt_mul_scalar_(v, ADAM_B2), grad, grad, 1 - ADAM_B2);
    lt_tensor *denom = r ? lt_add_scalar_(lt_div(lt_sqrt(v), lt_scalar(sqrt(bc2), lt_type(v), LT_CPU)),
                                          ADAM_EPS) : NULL;
    if (denom) r = lt_addcdiv_(p, m, denom, -step_size);
    lt_scope_pop();
    lt_no_grad_pop();
    return r && denom ? 0 : lm_err_lt("refine: Adam step");
}

/* One level: *res (1, 3, h, w) kept (caller-owned). img (1, 3, H, W) and mask (1, 1, H, W)
 * padded, mask 0/1; ref the previous level's result or NULL (the coarsest level). */
static int run_level(lt_tensor **res, lm_generator *g, lt_tensor *img, lt_tensor *mask, lt_tensor *ref,
                     int64_t h, int64_t w, const lm_refine_opts *o, int scale, int n_scales) {
    double t0 = lm_clock_now();
    int rc = 0, steps = 0;
    double loss_first = NAN, loss_last = NAN, t_steps = 0;
    *res = NULL;
    lt_scope_push();
    int64_t rep3[4] = {1, 3, 1, 1};
    lt_tensor *mask3 = lt_repeat(mask, rep3, 4);
    lt_tensor *parts[2] = {lt_mul(img, lt_rsub_scalar(mask, 1.0)), mask};
    lt_tensor *z[2] = {NULL, NULL}, *pred = NULL;
    lt_no_grad_push();
    rc = lm_generator_front(g, lt_cat(parts, 2, 1), 0, &z[0], &z[1]);
    lt_no_grad_pop();
    if (rc) goto cleanup;
    if (!z[0] || !z[1]) {
        rc = lm_err_code(LM_ENOTSUP, "refine: the generator has no %s branch at its bottleneck (the "
                         "official refiner optimises both; resnet_conv_kwargs.ratio_gin must be in "
                         "(0, 1))", z[0] ? "global" : "local");
        goto cleanup;
    }
    z[0] = lt_contiguous(lt_detach(z[0])); /* the two leaves Adam optimises */
    z[1] = lt_contiguous(lt_detach(z[1]));
    if (ref && (lt_set_requires_grad(z[0], 1) < 0 || lt_set_requires_grad(z[1], 1) < 0)) {
        rc = lm_err_lt("refine: features");
        goto cleanup;
    }
    if (ref) {
        level_ctx c = {.g = g, .o = o, .img = img, .ref = ref, .h = h, .w = w};
        c.known = lt_to_dtype(lt_lt_scalar(mask3, EPS), lt_type(img));
        /* _pyrdown_mask(mask[:, :1, :h, :w]) of the 3-channel mask, as the official slice */
        lt_tensor *md = binarize_ge(pyrdown(crop_view(lt_narrow(mask3, 1, 0, 1), h, w), 0), 1.0 - EPS);
        md = binarize_ge(erode(md), 1.0 - EPS);                               /* _erode_mask */
        c.md3 = lt_repeat(md, rep3, 4);
        c.n_known = lt_item(lt_sum(c.known));
        c.n_md = lt_item(lt_sum(c.md3));
        if (!isfinite(c.n_known) || !isfinite(c.n_md) || !ref) {
            rc = lm_err_lt("refine: masks");
            goto cleanup;
        }
        lt_no_grad_push(); /* Adam's state: zeros like z */
        lt_tensor *m[2] = {lt_zero_(lt_clone(z[0])), lt_zero_(lt_clone(z[1]))};
        lt_tensor *v[2] = {lt_zero_(lt_clone(z[0])), lt_zero_(lt_clone(z[1]))};
        lt_no_grad_pop();
        if (!m[0] || !m[1] || !v[0] || !v[1]) {
            rc = lm_err_lt("refine: Adam state");
            goto cleanup;
        }
        for (int it = 0; it < o->n_iters - 1 && (c.n_known > 0 || c.n_md > 0); it++) {
            double ts = lm_clock_now();
            lt_scope_push();
            lt_tensor *gz[2] = {NULL, NULL};
            double lv = NAN, *lvp = o->log ? &lv : NULL;
            rc = o->checkpoint ? grads_checkpoint(&c, z, gz, lvp) : grads_plain(&c, z, gz, lvp);
            if (!rc) rc = adam_step(z[0], gz[0], m[0], v[0], it + 1, o->lr);
            if (!rc) rc = adam_step(z[1], gz[1], m[1], v[1], it + 1, o->lr);
            if (o->checkpoint) {
                lt_free(gz[0]);
                lt_free(gz[1]);
            }
            lt_scope_pop();
            if (rc) goto cleanup;
            if (it == 0) loss_first = lv;
            loss_last = lv;
            steps++;
            t_steps += lm_clock_now() - ts;
        }
    }
    lt_no_grad_push(); /* the last forward: no step follows it */
    pred = lm_generator_rear(g, z[0], z[1], 0);
    lt_no_grad_pop();
    if (!pred) {
        rc = -1;
        goto cleanup;
    }
    /* inpainted = mask * pred + (1 - mask) * image, cropped */
    *res = lt_keep(crop(lt_add(lt_mul(mask3, pred), lt_mul(lt_rsub_scalar(mask3, 1.0), img)), h, w));
    if (!*res) rc = lm_err_lt("refine: blend");
cleanup:
    lt_scope_pop();
    if (!rc && o->log)
        fprintf(o->log, "refine: level %d/%d %lldx%lld: %s (%.2f s)\n", scale + 1, n_scales,
                (long long)w, (long long)h, !ref ? "plain forward" : "refined", lm_clock_now() - t0);
    if (!rc && o->log && ref)
        fprintf(o->log, "refine:   %d Adam steps (%.2f s each, forward + backward), loss %.5f -> %.5f "
                "(before the first / last step)\n", steps, steps ? t_steps / steps : 0.0, loss_first, loss_last);
    return rc;
}

/* ---- refine_predict --------------------------------------------------------------------------- */

int lm_refine_predict(lt_tensor **out, lm_generator *g, lt_tensor *image, lt_tensor *mask,
                      const lm_refine_opts *o) {
    *out = NULL;
    lm_refine_opts def = lm_refine_defaults();
    if (!o) o = &def;
    if (!image || !mask) return lm_err_lt("refine: input");
    if (lm_generator_rear_blocks(g) < 0) return lm_err_prefix("refine");
    if (lt_dim(image) != 4 || lt_size(image, 0) != 1 || lt_size(image, 1) != 3 || lt_dim(mask) != 4 ||
        lt_size(mask, 0) != 1 || lt_size(mask, 1) != 1 || lt_size(mask, 2) != lt_size(image, 2) ||
        lt_size(mask, 3) != lt_size(image, 3))
        return lm_err_code(LM_EINVAL, "refine: expected image (1, 3, H, W) and mask (1, 1, H, W)");
    int h = (int)lt_size(image, 2), w = (int)lt_size(image, 3), rh, rw, resized, n;
    int rc = lm_refine_plan(o, h, w, &rh, &rw, &resized, &n);
    if (rc) return rc;
    if (o->log && resized)
        fprintf(o->log, "refine: %dx%d is over the pixel budget %.0f: resized to %dx%d (the result "
                "keeps that size, as the official refiner's)\n", w, h, o->px_budget, rw, rh);
    if (o->log && n == 1)
        fprintf(o->log, "refine: one level (smaller side %d < min_side %d x sqrt(2), or max_scales 1): "
                "no refinement, the plain forward at %dx%d\n", rh < rw ? rh : rw, o->min_side, rw, rh);
    lt_tensor **im = calloc((size_t)n * 2, sizeof *im), **mk = im + n; /* level 0 = finest */
    lt_tensor *cur = NULL;
    if (!im) return lm_err_code(LM_ENOMEM, "refine: out of memory");
    lt_scope_push();
    lt_tensor *img = image, *msk = mask;
    if (resized) { /* kornia resize: F.interpolate bilinear, align_corners False */
        img = lt_interpolate(image, rh, rw, LT_BILINEAR);
        msk = lt_interpolate(mask, rh, rw, LT_BILINEAR);
        msk = lt_where(lt_gt_scalar(msk, EPS), lt_scalar(1.0, lt_type(msk), lt_device_of(msk)), msk); /* mask[mask > 1e-8] = 1 */
    }
    im[0] = img;
    mk[0] = msk;
    for (int s = 1; s < n; s++) {
        im[s] = pyrdown(im[s - 1], 1);
        mk[s] = binarize_ge(pyrdown(mk[s - 1], 1), EPS); /* _pyrdown_mask, round_up */
    }
    for (int s = n - 1; s >= 0 && !rc; s--) { /* coarsest first */
        int64_t lh = lt_size(im[s], 2), lw = lt_size(im[s], 3);
        if (lh < 1 || lw < 1) {
            rc = lm_err_lt("refine: pyramid level %d", n - s);
            break;
        }
        lt_scope_push();
        lt_tensor *ip = pad_modulo(im[s], o->modulo);
        lt_tensor *mp = binarize_ge(pad_modulo(mk[s], o->modulo), EPS);
        lt_tensor *res = NULL;
        if (!ip || !mp) rc = lm_err_lt("refine: level %d (%lldx%lld) padding to %d", n - s,
                                       (long long)lw, (long long)lh, o->modulo);
        else rc = run_level(&res, g, ip, mp, cur, lh, lw, o, n - 1 - s, n);
        lt_scope_pop();
        lt_free(cur);
        cur = res;
        if (!rc && o->on_scale) o->on_scale(o->ctx, n - 1 - s, n, cur);
    }
    lt_scope_pop();
    free(im);
    if (rc) {
        lt_free(cur);
        return lm_err_prefix("refine");
    }
    *out = lt_alias(cur); /* into the caller's scope */
    lt_free(cur);
    return *out ? 0 : lm_err_lt("refine: result");
}

int lm_refine_image(float **out, int *ow, int *oh, lm_generator *g, const uint8_t *img,
                    const uint8_t *mask, int w, int h, lt_device dev, lt_dtype dt,
                    const lm_refine_opts *o) {
    *out = NULL;
    *ow = *oh = 0;
    if (w <= 0 || h <= 0) return lm_err_code(LM_EINVAL, "refine: empty image (%dx%d)", w, h);
    if (dt != LT_F32 && dt != LT_F64)
        return lm_err_code(LM_EINVAL, "refine: precision %s (float32 or float64 only)", lt_dtype_name(dt));
    size_t n = (size_t)w * h;
    float *src = malloc(n * 4 * sizeof *src); /* (h, w, 3) RGB / 255, then (h, w) grey / 255 */
    if (!src) return lm_err_code(LM_ENOMEM, "refine: out of memory for a %dx%d image", w, h);
    for (size_t i = 0; i < n * 3; i++) src[i] = (float)img[i] / 255.0f; /* load_image: float32 / 255 */
    for (size_t i = 0; i < n; i++) src[n * 3 + i] = (float)mask[i] / 255.0f;
    lm_err_clear();
    lt_error_clear();
    lt_scope_push();
    int64_t si[4] = {1, h, w, 3}, sm[4] = {1, 1, h, w}, perm[4] = {0, 3, 1, 2}, back[4] = {0, 2, 3, 1};
    lt_tensor *x = lt_contiguous(lt_permute(lt_from_buffer(src, si, 4, LT_F32), perm, 4)); /* (1, 3, h, w) */
    lt_tensor *m = lt_from_buffer(src + n * 3, sm, 4, LT_F32);                             /* (1, 1, h, w) */
    x = lt_to_dtype(x, dt);
    m = lt_to_dtype(m, dt);
    if (dev != LT_CPU) {
        x = lt_to_device(x, dev);
        m = lt_to_device(m, dev);
    }
    lt_tensor *y = NULL;
    int rc = x && m ? lm_refine_predict(&y, g, x, m, o) : lm_err_lt("refine: input");
    if (!rc) {
        int rh = (int)lt_size(y, 2), rw = (int)lt_size(y, 3);
        lt_tensor *hwc = lt_to_dtype(lt_contiguous(lt_permute(y, back, 4)), LT_F32); /* (1, h', w', 3) */
        float *buf = malloc((size_t)rh * rw * 3 * sizeof *buf);
        if (!buf) rc = lm_err_code(LM_ENOMEM, "refine: out of memory");
        else if (lt_to_buffer(hwc, buf, (size_t)rh * rw * 3 * sizeof *buf) < 0) {
            rc = lm_err_lt("refine: output");
            free(buf);
        } else {
            *out = buf;
            *ow = rw;
            *oh = rh;
        }
    }
    lt_scope_pop();
    free(src);
    return rc;
}
