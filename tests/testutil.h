/* testutil.h — helpers shared by the test suites: fixture tensors and the parity
 * comparison |a − e| ≤ atol + rtol·|e|, loading fixture weights into a registry,
 * running the `lamac` binary, temporary directories. Linked into lamac_tests only. */
#ifndef LM_TESTUTIL_H
#define LM_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "model/discriminator.h"
#include "model/generator.h"
#include "model/param.h"
#include "losses/resnet_pl.h"
#include "losses/vgg_pl.h"
#include "train/ema.h"
#include "train/optim.h"
#include "train/step.h"
#include "io/safetensors.h"

/* Fixture entry `name` as a new tensor (current scope); fails the test if absent. */
lt_tensor *lm_test_fixture(const lm_safetensors_file *f, const char *name);

/* Largest errors of a group of compared tensors (printed once per fixture). */
typedef struct lm_test_errs {
    const char *name;
    double max_abs, max_rel; /* rel: max |a − e| / max |e| of a tensor (0 for a zero e) */
    int n;
} lm_test_errs;

/* Asserts |a − e| ≤ atol + rtol·|e| elementwise (same shape). With errs NULL it prints
 * the tensor's max error; otherwise it records it in *errs (LM_TEST_VERBOSE=1 prints too). */
void lm_test_expect_close(lm_test_errs *errs, lt_tensor *a, lt_tensor *e, double atol,
                          double rtol, const char *what);
void lm_test_errs_print(const char *fixture, const lm_test_errs *errs);

/* The parity policy (README "Tests"). Float64 checks (structure: formulas, gradients, updates)
 * allow a relative LM_TEST_F64_RTOL: rounding there is ~1e-16 on any CPU, chaos in ten GAN
 * steps amplifies it to ~1e-11, and a wrong formula moves a value by 1e-6 or more.
 * Float32 checks allow k × envelope + floor, where the envelope is the official float32
 * spread measured by the fixture script (threads 1/2/3, ATEN_CPU_CAPABILITY=default,
 * ONEDNN_MAX_CPU_ISA lowered, the batch moved by one ulp), k = LM_TEST_ENV_K and
 * floor = LM_TEST_ENV_FLOOR_REL·|e| + LM_TEST_ENV_FLOOR_ABS (a few float32 ulps). */
#define LM_TEST_F64_RTOL 1e-8
#define LM_TEST_ENV_K 4.0
#define LM_TEST_ENV_FLOOR_REL 1e-6
#define LM_TEST_ENV_FLOOR_ABS 1e-7

/* The float32 tolerance for a value e whose measured envelope is env. */
double lm_test_envelope_tol(double env, double e);
/* Element i of the envelope entry `key` (fails the test when absent or out of range). */
double lm_test_envelope(const lm_safetensors_file *env, const char *key, int64_t i);

/* Copies the fixture's `<prefix><key>` into every registered tensor. The fixture must hold
 * exactly the registry's keys, with equal shapes, in the registry's order (the official
 * state_dict order), and no other `<prefix>*` entry. */
void lm_test_load_weights(lm_params *p, const lm_safetensors_file *f, const char *prefix);

/* The lamac binary every CLI-running test uses: $LAMAC_BIN if set, else the build directory
 * compiled in (LM_BUILD_DIR "/lamac"). Fails the test (never skips it) when the binary is not
 * there or not executable. */
const char *lm_test_lamac_bin(void);

/* Runs `<lamac binary> <args> 2>&1`, captures up to cap−1 bytes, returns the exit status. */
int lm_test_run(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Runs the shell line `<fmt...> 2>&1` (a runtime runner: python3, node), the same way. */
int lm_test_sh(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A tensor as a raw little-endian float32 file (converted), and such a file read back as a
 * float32 tensor of the given shape (in the current scope); fail the test on error. */
void lm_test_write_f32(const char *path, lt_tensor *t);
lt_tensor *lm_test_read_f32(const char *path, const int64_t *shape, int ndim);

/* Creates /tmp/lamac_<tag>_XXXXXX in buf (fails the test on error); returns buf. */
const char *lm_test_tmpdir(char *buf, size_t cap, const char *tag);
/* The whole file as a NUL-terminated malloc'd string: lm_test_slurp answers NULL when it
 * cannot be opened, lm_test_read_file fails the test naming it. */
char *lm_test_slurp(const char *path);
char *lm_test_read_file(const char *path);
/* Removes a directory tree (no-op for "" or NULL). */
void lm_test_rmtree(const char *dir);
/* Writes text to root/rel, creating rel's folders (fails the test on error). */
void lm_test_write_file(const char *root, const char *rel, const char *text);

/* The overrides that make `lamac train configs/training/demo.yaml` tiny (suites append their
 * own trainer/visualizer options). */
#define LM_TEST_TINY_TRAIN                                                                              \
    "generator.ngf=8 generator.n_blocks=1 discriminator.ndf=8 data.train.out_size=32 data.batch_size=2 " \
    "trainer.kwargs.log_every_n_steps=1 "

/* Sets every float32 tensor of p to the formula weights of tests/ref/gen_eval_fixtures.py
 * (a hash of its name and index; conv weights scaled by fan-in, bias/weight/running_mean/
 * running_var of norms each their own form); fails the test on any other tensor name. */
void lm_test_fill_formula(lm_params *p);

/* The deterministic weights of tests/ref/gen_perceptual_fixtures.py det_values (an integer
 * hash of the key and element index): lm_test_det_tensor fills t with the values of `key`,
 * the key inside the network ("conv1.weight"; conv weights scaled by fan-in, bias/weight/
 * running_mean/running_var each their own form; fails the test on any other leaf);
 * lm_test_det_fill does it for every tensor of a loss registry ("impl.conv1.weight" -> key
 * "conv1.weight"), num_batches_tracked left alone. */
void lm_test_det_tensor(lt_tensor *t, const char *key);
void lm_test_det_fill(lm_params *p);

/* Saves a registry as a weights file at path (lm_weights_save defaults); fails the test on error. */
void lm_test_save_params(lm_params *p, const char *path);

/* A $TORCH_HOME for the evaluator: th/hub/checkpoints/vgg16-397923af.pth (LPIPS vgg backbone)
 * and pt_inception-2015-12-05-6726825d.pth (FID inception), directories made as needed. Their
 * parameters are set by fill when it is non-NULL, else by lm_params_randomize(p, seed). */
void lm_test_write_torch_home(const char *th, void (*fill)(lm_params *p), uint64_t seed);

/* ---- the options the parity fixtures were made with ------------------------------------
 * The fixture scripts (tests/ref) build the official modules as the official lama-fourier
 * configuration does. The schema defaults (config/fill.h lm_cfg_defaults) are the official
 * constructors' defaults instead; these helpers start from them and set, in testutil.c and
 * nowhere else, the lama-fourier values where the two differ. */
/* ffc_resnet_075.yaml: add_out_act sigmoid, enable_lfu false in every stage */
lm_generator_opts lm_test_generator_opts(void);
/* lm_test_generator_opts at test size: ngf 8, n_blocks 2, max_features 64, n_downsampling nd. */
lm_generator_opts lm_test_small_ffc_opts(int nd);

/* A generator with seeded random weights and BatchNorm statistics (lm_params_randomize), in
 * dtype: the values are drawn in float32 and copied, so the float64 generator of a seed holds
 * the float32 one's numbers exactly. Fails the test on error. */
typedef struct lm_test_gen {
    lm_params p;
    lm_generator *g;
} lm_test_gen;
void lm_test_gen_open(lm_test_gen *m, const lm_generator_opts *o, lt_dtype dtype, uint64_t seed);
void lm_test_gen_close(lm_test_gen *m);
/* pix2pixhd_nlayer.yaml: n_layers 4 */
lm_discriminator_opts lm_test_discriminator_opts(void);
/* lama-fourier.yaml losses.adversarial: weight 10, gp_coef 0.001, mask_as_fake_target and
 * allow_scale_mask true */
lm_adv_opts lm_test_adv_opts(void);
/* the above, and optimizers/default_optimizers.yaml: adam, lr 0.001 and 0.0001 */
lm_step_opts lm_test_step_opts(void);
/* torch.optim's defaults for kind (AdamW: weight_decay 0.01), lr 0.001 */
lm_optim_opts lm_test_optim_opts(lm_optim_kind kind);
lm_ema_opts lm_test_ema_opts(void);
/* lama-fourier.yaml losses.resnet_pl: weight 30 */
lm_resnet_pl_opts lm_test_resnet_pl_opts(void);
lm_vgg_pl_opts lm_test_vgg_pl_opts(void);

#endif
