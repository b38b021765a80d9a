/* lt.h — the C API over libtorch (implemented in lt.cpp, the only C++ file).
 *
 * Conventions (DESIGN.md §2):
 * - lt_tensor is an opaque handle. Every op returns a NEW handle; inputs are borrowed.
 * - Ownership: a handle created while a scope is open (lt_scope_push) belongs to the
 *   innermost scope and is freed by lt_scope_pop. lt_keep() takes a handle out of its
 *   scope: the caller then owns it and frees it with lt_free(). Handles created with no
 *   scope open are owned by the caller. lt_live_count() counts live handles (leak tests).
 *   lt_free/lt_keep give the scope's slot back, so a long-lived scope stays as large as
 *   the handles it still owns (lt_scope_slots()). A handle owned by a scope may be freed
 *   or kept only on the thread that opened the scope: elsewhere lt_free/lt_keep fail
 *   with a message and leave it to its scope (caller-owned handles may go anywhere).
 * - Errors: a failing op returns NULL (or a negative int) and sets a one-line message,
 *   read with lt_error(). An op given a NULL input returns NULL at once and keeps the
 *   message of the first failure, so chains check once at the end:
 *       y = lt_relu(lt_batch_norm(lt_conv2d(x, w, NULL, 1, 1, 1, 1), ...)); if (!y) ...
 * - Shapes and index lists are (const int64_t *p, int n). Square kernels: stride,
 *   padding and dilation are single ints (LaMa uses no other).
 * - Dtypes and devices are parameters (LT_F32, LT_CPU, LT_CUDA + i).
 * Thread safety: scopes, no-grad state and the error message are per thread. */
#ifndef LT_H
#define LT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lt_tensor lt_tensor;

/* LT_DTYPE_INVALID is what lt_type() answers for NULL (or an unsupported dtype), with the
 * message set; any op given it fails. */
typedef enum lt_dtype {
    LT_DTYPE_INVALID = -1,
    LT_F32 = 0, LT_F64, LT_F16, LT_BF16, LT_I64, LT_I32, LT_U8, LT_BOOL, LT_C64
} lt_dtype;

/* A device: LT_CPU, or LT_CUDA + i for cuda:i. LT_DEVICE_INVALID is what lt_device_of()
 * answers for NULL (message set); ops given it fail. */
typedef int lt_device;
enum { LT_DEVICE_INVALID = -1, LT_CPU = 0, LT_CUDA = 1 };

typedef enum lt_pad_mode { LT_PAD_CONSTANT = 0, LT_PAD_REFLECT, LT_PAD_REPLICATE } lt_pad_mode;
typedef enum lt_interp_mode { LT_NEAREST = 0, LT_BILINEAR } lt_interp_mode; /* align_corners=False */
typedef enum lt_fft_norm { LT_FFT_BACKWARD = 0, LT_FFT_ORTHO, LT_FFT_FORWARD } lt_fft_norm;

/* ---- errors, handles, scopes ------------------------------------------------------------ */
const char *lt_error(void);          /* last message of this thread (borrowed) */
void lt_error_clear(void);
void lt_set_error(const char *msg);  /* lets C callers report through the same channel */
long lt_live_count(void);            /* live handles, all threads */
void lt_scope_push(void);
void lt_scope_pop(void);             /* frees every handle the scope still owns */
int lt_scope_depth(void);
size_t lt_scope_slots(void);         /* handles the innermost scope owns (0 if none open) */
/* Detaches t from its scope; the caller owns it. NULL-safe; NULL + message if t belongs
 * to a scope of another thread. */
lt_tensor *lt_keep(lt_tensor *t);
/* Accepts NULL; also fine for a handle inside a scope of this thread. A handle of another
 * thread's scope is not freed (message set; its scope frees it). */
void lt_free(lt_tensor *t);

/* ---- creation and conversion ------------------------------------------------------------- */
lt_tensor *lt_empty(const int64_t *shape, int n, lt_dtype dt, lt_device dev);
lt_tensor *lt_zeros(const int64_t *shape, int n, lt_dtype dt, lt_device dev);
lt_tensor *lt_ones(const int64_t *shape, int n, lt_dtype dt, lt_device dev);
lt_tensor *lt_full(const int64_t *shape, int n, double value, lt_dtype dt, lt_device dev);
lt_tensor *lt_rand(const int64_t *shape, int n, lt_dtype dt, lt_device dev);  /* U[0,1) */
lt_tensor *lt_randn(const int64_t *shape, int n, lt_dtype dt, lt_device dev); /* N(0,1) */
lt_tensor *lt_uniform_(lt_tensor *t, double lo, double hi);                   /* in place */
lt_tensor *lt_arange(double start, double end, double step, lt_dtype dt, lt_device dev);
lt_tensor *lt_scalar(double v, lt_dtype dt, lt_device dev);                   /* 0-dim */
/* Copies bytes (native little-endian layout of dt) into a new contiguous CPU tensor. */
lt_tensor *lt_from_buffer(const void *data, const int64_t *shape, int n, lt_dtype dt);
/* Copies t (any device, any layout) into out; dtype must equal t's; bytes must equal
 * numel * element size. Returns 0 or -1. */
int lt_to_buffer(lt_tensor *t, void *out, size_t bytes);
/* Pointer to the data of a contiguous CPU tensor (NULL + error otherwise). */
void *lt_data(lt_tensor *t);
double lt_item(lt_tensor *t);        /* single-element tensor -> double (NaN + error on failure) */
/* How many times this process has waited for a device's results: lt_item, lt_to_buffer and
 * lt_all_finite read values to the host, lt_synchronize waits on CUDA, and lt_to_device
 * between the host and a GPU is a blocking copy. On CUDA each one stalls the host until the
 * queued work is done (on CPU they cost nothing extra, but count the same); `lamac bench
 * step` and `lamac train` print the count per iteration (none between log steps). */
int64_t lt_host_reads(void);
lt_tensor *lt_to_dtype(lt_tensor *t, lt_dtype dt);
lt_tensor *lt_to_device(lt_tensor *t, lt_device dev);
/* lt_from_buffer into page-locked ("pinned") host memory when dev is a CUDA device, the
 * source a copy to that device can read asynchronously (lt_to_device_on); the memory comes
 * from libtorch's caching host allocator, which does not reuse it before the copies queued
 * from it are done, so the handle may be freed right after lt_to_device_on. Any other dev:
 * exactly lt_from_buffer. A new CPU tensor (scope rules as ops). */
lt_tensor *lt_from_buffer_pinned(const void *data, const int64_t *shape, int n, lt_dtype dt, lt_device dev);
lt_tensor *lt_clone(lt_tensor *t);
lt_tensor *lt_detach(lt_tensor *t);
lt_tensor *lt_contiguous(lt_tensor *t);
lt_tensor *lt_alias(lt_tensor *t);   /* a second handle on the same tensor */
/* Memory format (torch.channels_last, for trainer.channels_last). lt_to_channels_last: a 4-D
 * tensor with channels-last strides and the same values (x.contiguous(memory_format=
 * torch.channels_last)); NULL + message for another dim. lt_set_channels_last_: converts a 4-D
 * tensor in place, keeping the handle and its autograd identity (a parameter stays that
 * parameter; param.data = param.contiguous(memory_format=...), as nn.Module.to(memory_format=)
 * does); a tensor of another dim is left as it is; 0 or -1. lt_is_channels_last: 1 when t is
 * 4-D with channels-last strides (for C = 1 or H = W = 1 both layouts hold at once), 0 if not,
 * -1 on NULL. Values never change: ops, lt_copy_ into it and lt_to_buffer (which writes the
 * standard contiguous order) see the same tensor. */
lt_tensor *lt_to_channels_last(lt_tensor *t);
int lt_set_channels_last_(lt_tensor *t);
int lt_is_channels_last(lt_tensor *t);

/* ---- copy streams: host-to-device copies that overlap with compute -------------------------
 * An lt_stream is a stream of its own on a CUDA device (taken from libtorch's pool through
 * c10's device-generic interface) with an event that marks the last copy queued on it. The
 * training loop uploads batch k+1 on it while the device's current ("compute") stream runs
 * step k, and makes the compute stream wait for it (on the device, not the host) before step
 * k+1 uses it:
 *     lt_stream *s = lt_stream_create(dev);
 *     lt_tensor *h = lt_from_buffer_pinned(buf, shape, 4, LT_F32, dev);
 *     lt_tensor *x = lt_to_device_on(h, s);          // queued; returns at once
 *     ... the compute stream runs other work ...
 *     lt_stream_wait(s, &x, 1);                      // before the first op on x
 * For a CPU device (or any device without streams) every call is the synchronous
 * equivalent: lt_to_device_on is lt_to_device, lt_stream_wait does nothing. The handle
 * belongs to no scope: lt_stream_free (NULL ok) frees it; copies already queued still run. */
typedef struct lt_stream lt_stream;
lt_stream *lt_stream_create(lt_device dev);  /* NULL + message on failure */
void lt_stream_free(lt_stream *s);
/* t (a CPU tensor; pinned for a truly asynchronous copy) copied to s's device on s, without
 * waiting for the copy (non_blocking), and s's event recorded after it. The result is a new
 * handle (scope rules as ops) that must not be used before lt_stream_wait. */
lt_tensor *lt_to_device_on(lt_tensor *t, lt_stream *s);
/* Makes the current stream of s's device wait (on the device) for every copy queued on s so
 * far, and records the n tensors (results of lt_to_device_on; NULL entries skipped) as used
 * by that stream, so that libtorch's caching allocator does not hand their memory to another
 * allocation on s before the compute stream's work on them is done (torch's record_stream).
 * No host synchronisation. 0 or -1. */
int lt_stream_wait(lt_stream *s, lt_tensor *const *ts, int n);

/* ---- information -------------------------------------------------------------------------- */
/* Queries on NULL answer a value no tensor has (-1, LT_DTYPE_INVALID, LT_DEVICE_INVALID; 0
 * for lt_same_shape) and set the message if none is set, like ops do. */
int lt_dim(lt_tensor *t);                          /* -1 on NULL */
int64_t lt_size(lt_tensor *t, int d);              /* negative d counts from the end */
int lt_shape(lt_tensor *t, int64_t *out, int cap); /* returns dim, fills up to cap sizes */
int64_t lt_numel(lt_tensor *t);
lt_dtype lt_type(lt_tensor *t);                    /* LT_DTYPE_INVALID on NULL */
lt_device lt_device_of(lt_tensor *t);              /* LT_DEVICE_INVALID on NULL */
size_t lt_dtype_size(lt_dtype dt);
const char *lt_dtype_name(lt_dtype dt);            /* "F32", "F16", ... (safetensors names) */
int lt_same_shape(lt_tensor *a, lt_tensor *b);
/* "(2, 3, 4) F32 cpu" into buf; returns buf. */
char *lt_describe(lt_tensor *t, char *buf, size_t cap);

/* ---- elementwise arithmetic (broadcasting) ---------------------------------------------- */
lt_tensor *lt_add(lt_tensor *a, lt_tensor *b);
lt_tensor *lt_sub(lt_tensor *a, lt_tensor *b);
lt_tensor *lt_mul(lt_tensor *a, lt_tensor *b);
lt_tensor *lt_div(lt_tensor *a, lt_tensor *b);
lt_tensor *lt_add_scalar(lt_tensor *a, double s);
lt_tensor *lt_mul_scalar(lt_tensor *a, double s);
lt_tensor *lt_rsub_scalar(lt_tensor *a, double s); /* s - a */
lt_tensor *lt_neg(lt_tensor *a);
lt_tensor *lt_abs(lt_tensor *a);
lt_tensor *lt_exp(lt_tensor *a);
lt_tensor *lt_log(lt_tensor *a);
lt_tensor *lt_sqrt(lt_tensor *a);
lt_tensor *lt_pow_scalar(lt_tensor *a, double p);
lt_tensor *lt_clamp(lt_tensor *a, double lo, double hi);
lt_tensor *lt_floor(lt_tensor *a);
lt_tensor *lt_round(lt_tensor *a);
lt_tensor *lt_matmul(lt_tensor *a, lt_tensor *b);
/* Symmetric eigendecomposition (torch.linalg.eigh, lower triangle): a (..., n, n) ->
 * evals (..., n) ascending, evecs (..., n, n) as columns. Fills both or neither; 0 / -1. */
int lt_linalg_eigh(lt_tensor *a, lt_tensor **evals, lt_tensor **evecs);

/* ---- in-place updates (return t, or NULL on failure) ------------------------------------
 * libtorch refuses an in-place op on a leaf that requires grad (a trainable parameter)
 * while grad mode is on ("a leaf Variable that requires grad is being used in an in-place
 * operation"): optimizer updates, EMA and weight loading run inside a no-grad region,
 *     lt_no_grad_push(); lt_add_(w, step, -lr); ...; lt_no_grad_pop(); */
lt_tensor *lt_copy_(lt_tensor *t, lt_tensor *src);          /* t[...] = src (broadcast, cast) */
lt_tensor *lt_zero_(lt_tensor *t);
lt_tensor *lt_fill_(lt_tensor *t, double v);
lt_tensor *lt_add_(lt_tensor *t, lt_tensor *o, double alpha); /* t += alpha * o */
lt_tensor *lt_add_scalar_(lt_tensor *t, double s);
lt_tensor *lt_mul_scalar_(lt_tensor *t, double s);
lt_tensor *lt_mul_(lt_tensor *t, lt_tensor *o);              /* t *= o (broadcast; o may be a 0-dim CPU tensor) */
lt_tensor *lt_addcmul_(lt_tensor *t, lt_tensor *a, lt_tensor *b, double v); /* t += v*a*b */
lt_tensor *lt_addcdiv_(lt_tensor *t, lt_tensor *a, lt_tensor *b, double v); /* t += v*a/b */

/* ---- neural-network primitives (NCHW) ------------------------------------------------------ */
/* w: (Cout, Cin/groups, k, k); b may be NULL (meaning no bias, not an error). */
lt_tensor *lt_conv2d(lt_tensor *x, lt_tensor *w, lt_tensor *b, int stride, int padding,
                     int dilation, int groups);
/* w: (Cin, Cout/groups, k, k) as PyTorch stores ConvTranspose2d weights. */
lt_tensor *lt_conv_transpose2d(lt_tensor *x, lt_tensor *w, lt_tensor *b, int stride,
                               int padding, int output_padding, int groups, int dilation);
/* training=1 normalises with batch statistics and updates running_mean/var in place
 * (unbiased variance, momentum); weight/bias/running stats may be NULL. */
lt_tensor *lt_batch_norm(lt_tensor *x, lt_tensor *weight, lt_tensor *bias,
                         lt_tensor *running_mean, lt_tensor *running_var, int training,
                         double momentum, double eps);
lt_tensor *lt_relu(lt_tensor *x);
lt_tensor *lt_relu_(lt_tensor *x);                          /* in place, returns x */
lt_tensor *lt_leaky_relu(lt_tensor *x, double slope);
lt_tensor *lt_sigmoid(lt_tensor *x);
lt_tensor *lt_tanh(lt_tensor *x);
lt_tensor *lt_softplus(lt_tensor *x);              /* log(1 + exp(x)), beta 1 */
/* pad: (left, right, top, bottom) for 4-D NCHW, as torch.nn.functional.pad. */
lt_tensor *lt_pad(lt_tensor *x, const int64_t *pad, int n, lt_pad_mode mode, double value);
lt_tensor *lt_avg_pool2d(lt_tensor *x, int kernel, int stride, int padding, int ceil_mode,
                         int count_include_pad);
lt_tensor *lt_max_pool2d(lt_tensor *x, int kernel, int stride, int padding, int dilation,
                         int ceil_mode);
lt_tensor *lt_adaptive_avg_pool2d(lt_tensor *x, int64_t oh, int64_t ow);
lt_tensor *lt_adaptive_max_pool2d(lt_tensor *x, int64_t oh, int64_t ow); /* values only */
lt_tensor *lt_interpolate(lt_tensor *x, int64_t oh, int64_t ow, lt_interp_mode mode);
lt_tensor *lt_mse_loss(lt_tensor *a, lt_tensor *b); /* mean reduction */
lt_tensor *lt_l1_loss(lt_tensor *a, lt_tensor *b);  /* mean reduction */

/* ---- shape ---------------------------------------------------------------------------------- */
lt_tensor *lt_cat(lt_tensor *const *ts, int n, int dim);
lt_tensor *lt_stack(lt_tensor *const *ts, int n, int dim);
/* Splits along dim into pieces of `sizes` (n of them, summing to the size); fills out[n]. */
int lt_split(lt_tensor *x, const int64_t *sizes, int n, int dim, lt_tensor **out);
lt_tensor *lt_narrow(lt_tensor *x, int dim, int64_t start, int64_t length);
lt_tensor *lt_select(lt_tensor *x, int dim, int64_t index);  /* drops dim */
lt_tensor *lt_reshape(lt_tensor *x, const int64_t *shape, int n);
lt_tensor *lt_permute(lt_tensor *x, const int64_t *dims, int n);
lt_tensor *lt_transpose(lt_tensor *x, int d0, int d1);
lt_tensor *lt_repeat(lt_tensor *x, const int64_t *reps, int n);
lt_tensor *lt_expand(lt_tensor *x, const int64_t *shape, int n);
lt_tensor *lt_unsqueeze(lt_tensor *x, int dim);
lt_tensor *lt_squeeze(lt_tensor *x, int dim);
lt_tensor *lt_flatten(lt_tensor *x, int start_dim, int end_dim);
lt_tensor *lt_flip(lt_tensor *x, const int64_t *dims, int n);

/* ---- FFT and complex ------------------------------------------------------------------------ */
/* Computed in float32 (a half input is promoted), as LaMa's FourierUnit requires. */
lt_tensor *lt_rfftn(lt_tensor *x, const int64_t *dims, int n, lt_fft_norm norm);
/* s: output sizes along dims (n of them). */
lt_tensor *lt_irfftn(lt_tensor *x, const int64_t *s, const int64_t *dims, int n, lt_fft_norm norm);
lt_tensor *lt_complex(lt_tensor *re, lt_tensor *im);
lt_tensor *lt_real(lt_tensor *z);
lt_tensor *lt_imag(lt_tensor *z);
lt_tensor *lt_view_as_real(lt_tensor *z);          /* (..., 2) */
lt_tensor *lt_view_as_complex(lt_tensor *x);       /* last dim 2 */

/* ---- reductions ------------------------------------------------------------------------------- */
lt_tensor *lt_sum(lt_tensor *x);                   /* all elements, 0-dim */
lt_tensor *lt_mean(lt_tensor *x);
lt_tensor *lt_max(lt_tensor *x);
lt_tensor *lt_min(lt_tensor *x);
lt_tensor *lt_sum_dims(lt_tensor *x, const int64_t *dims, int n, int keepdim);
lt_tensor *lt_mean_dims(lt_tensor *x, const int64_t *dims, int n, int keepdim);
lt_tensor *lt_norm(lt_tensor *x, double p);        /* p-norm of all elements */
int lt_all_finite(lt_tensor *x);                   /* 1 yes, 0 no, -1 error */
lt_tensor *lt_isfinite(lt_tensor *x);              /* bool, elementwise; no host read */

/* ---- comparison and selection ------------------------------------------------------------- */
lt_tensor *lt_gt_scalar(lt_tensor *x, double s);   /* bool */
lt_tensor *lt_lt_scalar(lt_tensor *x, double s);
lt_tensor *lt_gt(lt_tensor *a, lt_tensor *b);
lt_tensor *lt_eq(lt_tensor *a, lt_tensor *b);
lt_tensor *lt_where(lt_tensor *cond, lt_tensor *a, lt_tensor *b);

/* ---- autograd --------------------------------------------------------------------------------- */
int lt_set_requires_grad(lt_tensor *t, int on);    /* leaf tensors */
int lt_requires_grad(lt_tensor *t);
int lt_backward(lt_tensor *loss);                  /* accumulates into .grad of leaves */
/* d(sum of outputs)/d(inputs): fills grads[n_in] with new handles. flags:
 * LT_GRAD_CREATE_GRAPH keeps the graph so the result can be differentiated again (R1
 * penalty). An input the outputs do not depend on is an error naming its index (a wiring
 * mistake would otherwise give a silent zero), unless LT_GRAD_ALLOW_UNUSED is given: then
 * it gets a zero tensor. Returns 0 or -1 (grads all NULL). */
enum { LT_GRAD_CREATE_GRAPH = 1, LT_GRAD_ALLOW_UNUSED = 2 };
int lt_grad(lt_tensor *const *outputs, int n_out, lt_tensor *const *inputs, int n_in,
            int flags, lt_tensor **grads);
int lt_has_grad(lt_tensor *t);                     /* .grad defined? */
lt_tensor *lt_grad_of(lt_tensor *t);               /* new handle on .grad (NULL + error if none) */
int lt_zero_grad(lt_tensor *t);                    /* sets .grad undefined */
/* Gradient-ready notifications (what DDP's reducer uses to overlap communication with
 * backward): fn(ctx, i) is called each time a backward pass has accumulated the gradient of
 * ts[i] into its .grad (a post hook of the leaf's gradient accumulator; once per backward
 * pass that reaches it, after all of that pass's contributions were summed). lt_grad (the
 * R1 gradient with respect to an input) does not accumulate into parameters and does not
 * call it. fn runs on the thread that executes the backward (the caller's on CPU) and must
 * not fail (record errors for later). Every ts[i] must be a leaf that requires grad.
 * lt_grad_ready_free makes later calls no-ops (libtorch keeps the hooks). 0 or -1. */
typedef struct lt_grad_ready lt_grad_ready;
int lt_grad_ready_create(lt_grad_ready **out, lt_tensor *const *ts, int n, void (*fn)(void *ctx, int i),
                         void *ctx);
void lt_grad_ready_free(lt_grad_ready *h);         /* accepts NULL */
void lt_no_grad_push(void);                        /* nestable no-grad region (this thread) */
void lt_no_grad_pop(void);
int lt_grad_enabled(void);
/* Vector-Jacobian product: grads[i] = d(sum_k <outputs[k], grad_outputs[k]>)/d(inputs[i])
 * (torch.autograd.grad(outputs, inputs, grad_outputs)); grad_outputs[k] has outputs[k]'s
 * shape. Same flags and unused-input rule as lt_grad; the graph is freed afterwards unless
 * LT_GRAD_CREATE_GRAPH. 0 or -1 (grads all NULL). */
int lt_vjp(lt_tensor *const *outputs, lt_tensor *const *grad_outputs, int n_out,
           lt_tensor *const *inputs, int n_in, int flags, lt_tensor **grads);

/* ---- autocast (mixed precision, torch.autocast) ------------------------------------------------
 * lt_autocast_enter(dev, dt) opens a region where the ops libtorch lists for autocast run in
 * dt (LT_BF16, or LT_F16 on CUDA) for tensors on dev's device type (CPU, or CUDA for any
 * LT_CUDA + i), like `with torch.autocast(device_type, dtype):` — it saves the previous
 * state, bumps the nesting count, and lt_autocast_exit restores it (clearing the cast cache
 * when the outermost region closes). lt_autocast_enter_off() opens a region with autocast
 * off on every device type (`torch.autocast(..., enabled=False)`), closed by the same
 * lt_autocast_exit. Regions nest, per thread; run backward outside them. 0 or -1. */
int lt_autocast_enter(lt_device dev, lt_dtype dt);
int lt_autocast_enter_off(void);
void lt_autocast_exit(void);                       /* no-op without an open region */
/* Autocast on for dev's device type in this thread: 1 / 0 (-1 on a bad device). */
int lt_autocast_enabled(lt_device dev);
int lt_autocast_depth(void);                       /* open regions of this thread */

/* ---- TorchScript modules (torch::jit::Module) ----------------------------------------------
 * For the TorchScript exporter (model/export_torchscript.c), which writes the forward as
 * TorchScript source: an empty module of class `class_name` (a qualified name such as
 * "__torch__.LamaInpainting"; it gets a `training` attribute, False), tensors registered on
 * it by name, methods compiled from source with define() (libtorch's own TorchScript compiler:
 * `torch.<op>` resolves to the aten operator of that name), saved as a TorchScript archive
 * that torch.jit.load (Python) and torch::jit::load (C++) read. A module handle belongs to
 * no scope: the caller frees it. 0 / -1 or NULL, with the message set, like the ops. */
typedef struct lt_jit lt_jit;
lt_jit *lt_jit_new(const char *class_name);
/* Registers a detached, contiguous copy of t (so later changes to t do not reach the module)
 * as attribute `name`: a parameter (requires_grad on, as nn.Parameter), or a buffer. */
int lt_jit_register(lt_jit *m, const char *name, lt_tensor *t, int is_buffer);
/* Compiles the TorchScript source (one or more `def` methods taking self) into the module;
 * a syntax or type error is the message, with the offending line. */
int lt_jit_define(lt_jit *m, const char *src);
/* Writes the archive to path (not atomically: libtorch opens path for writing). */
int lt_jit_save(lt_jit *m, const char *path);
/* The archive as a malloc'd buffer (*data, *size; the caller frees *data), for atomic
 * writes (core/atomic.h). Fills both or neither. */
int lt_jit_save_buffer(lt_jit *m, void **data, size_t *size);
/* Loads an archive with its tensors on dev, in eval mode (training False). */
lt_jit *lt_jit_load(const char *path, lt_device dev);
/* m.forward(in[0], ..., in[n-1]) that returns one tensor: a new handle (scope rules as ops).
 * Runs under the caller's grad mode (lt_no_grad_push for inference). */
lt_tensor *lt_jit_forward(lt_jit *m, lt_tensor *const *in, int n);
void lt_jit_free(lt_jit *m);                       /* accepts NULL */

/* ---- random generator, threads, devices ----------------------------------------------------- */
void lt_manual_seed(uint64_t seed);                /* CPU and CUDA default generators */
/* Default CPU generator state: returns its size in bytes; copies it into buf if cap allows. */
long lt_rng_state(void *buf, size_t cap);
int lt_rng_set_state(const void *buf, size_t size);
/* libtorch's intra-op threads, and OpenBLAS's own pool when that is the BLAS in use. */
void lt_set_num_threads(int n);
/* Records every ATen op (libtorch's legacy profiler) until lt_profile_end, which writes a
 * Chrome trace (JSON) to path. One profile at a time per process. */
int lt_profile_begin(const char *path);
int lt_profile_end(void);
int lt_get_num_threads(void);
int lt_cuda_device_count(void);                    /* 0 without CUDA */
int lt_synchronize(lt_device d);                   /* waits for d's queued work (CUDA); CPU: no-op */
const char *lt_backend_info(void);                 /* libtorch version, BLAS, CUDA */
/* TF32 math on CUDA (for trainer.tf32): cuDNN convolutions (torch.backends.cudnn.allow_tf32)
 * and cuBLAS matmuls (torch.backends.cuda.matmul.allow_tf32), process-wide switches of
 * libtorch's global context; present in CPU builds too, where nothing reads them. libtorch's
 * defaults since 1.12: convolutions on, matmul off. 0 or -1. */
int lt_set_tf32(int cudnn_conv, int cublas_matmul);
int lt_get_tf32(int *cudnn_conv, int *cublas_matmul);
/* The CUDA caching allocator's peak of allocated bytes on d since the start or the last
 * lt_cuda_reset_peak (torch.cuda.max_memory_allocated / reset_peak_memory_stats). -1 for the
 * CPU, in a build without a CUDA libtorch (LT_WITH_CUDA), or before the allocator has seen
 * d (no message set). lt_cuda_reset_peak: 0, or -1 where there is nothing to reset. */
int64_t lt_cuda_peak_allocated(lt_device d);
int lt_cuda_reset_peak(lt_device d);

/* ---- distributed: c10d process groups (torch.distributed) ------------------------------------
 * A process group of world_size processes, each with its rank, meeting through a store:
 * a TCPStore served by rank 0 at master_addr:master_port (the others connect to it), or a
 * FileStore at file_store (a path on a file system all ranks share). Backend "gloo" (CPU
 * tensors; built when the Gloo headers were found, see lt_pgroup_backends) or "nccl" (CUDA
 * tensors; built only against a CUDA libtorch, and never run by lamac's tests).
 * Every collective is synchronous and in place, and bounded by the group's timeout: the
 * rendezvous, a collective that a peer does not join in time, and a peer that is gone (its
 * connection closed) all fail with a message (lt_error) instead of hanging. After a failed
 * collective the group is unusable: free it and stop. Collectives must be called in the same
 * order, with tensors of the same shapes and dtype, on every rank. */
typedef struct lt_pgroup lt_pgroup;
typedef enum lt_reduce_op { LT_REDUCE_SUM = 0, LT_REDUCE_AVG } lt_reduce_op;

typedef struct lt_pgroup_opts {
    int rank, world_size;
    const char *master_addr; /* TCPStore host (rank 0 listens on it); unused with file_store */
    int master_port;
    const char *file_store;  /* non-NULL: rendezvous through this FileStore path instead */
    double timeout_s;        /* rendezvous and every collective (> 0) */
    const char *backend;     /* "gloo" or "nccl"; NULL = "gloo" */
    /* Gloo's own connections: bound to the address of this host name or interface (first
     * one given): gloo_iface (GLOO_SOCKET_IFNAME, e.g. "eth0"), gloo_host ("127.0.0.1");
     * neither: the address the host name resolves to (torch's default). */
    const char *gloo_iface, *gloo_host;
    int gloo_threads;        /* Gloo worker threads (0 = 2, torch's default) */
} lt_pgroup_opts;

/* "gloo", "gloo nccl" or "" (this build has no c10d backend). Static string. */
const char *lt_pgroup_backends(void);
/* Joins the group (blocks until every rank has joined or the timeout). 0 or -1. */
int lt_pgroup_create(lt_pgroup **out, const lt_pgroup_opts *o);
void lt_pgroup_free(lt_pgroup *g);                 /* accepts NULL */
int lt_pgroup_rank(const lt_pgroup *g);            /* -1 on NULL */
int lt_pgroup_size(const lt_pgroup *g);            /* -1 on NULL */
/* Reduces each of the n tensors (dense, contiguous; any shapes) across ranks in place: the
 * sum, or the sum divided by the world size. The n reductions are issued together and run
 * in the backend's threads; the call returns when all are done. 0 or -1. */
int lt_pgroup_allreduce(lt_pgroup *g, lt_tensor *const *ts, int n, lt_reduce_op op);
/* Copies each tensor of rank `root` into the same tensors of every other rank. 0 or -1. */
int lt_pgroup_broadcast(lt_pgroup *g, lt_tensor *const *ts, int n, int root);
int lt_pgroup_barrier(lt_pgroup *g);               /* 0 or -1 */
/* Starts a SUM all-reduce of t (dense, contiguous) in place and returns at once; t must stay
 * alive and untouched until lt_pgroup_work_wait. NULL + message on failure. */
typedef struct lt_pgroup_work lt_pgroup_work;
lt_pgroup_work *lt_pgroup_allreduce_start(lt_pgroup *g, lt_tensor *t);
/* Waits for the operation (bounded by the group's timeout) and frees w. 0 or -1. */
int lt_pgroup_work_wait(lt_pgroup_work *w);
/* Differentiable all-reduce (torch.distributed.nn.all_reduce, SUM): a new tensor holding the
 * sum of x over the ranks. Its backward is the same all-reduce of the incoming gradient (the
 * gradient of the sum of every rank's loss), itself differentiable, so double backward (R1
 * through a SyncBatchNorm) stays correct. Every rank must run the forward and, when a loss
 * depends on it, the backward in the same order. NULL + message on failure. */
lt_tensor *lt_pgroup_allreduce_sum_grad(lt_pgroup *g, lt_tensor *x);

#ifdef __cplusplus
}
#endif
#endif
