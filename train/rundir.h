/* rundir.h — a training run's directory and its metrics log. Mirrors what the official
 * bin/train.py gets from Hydra and Lightning: the run folder
 * (`${location.out_root_dir}/..._${now:%Y-%m-%d_%H-%M-%S}_...`, configs/training/hydra/
 * overrides.yaml) holding the resolved config, `checkpoints/` (ModelCheckpoint's dirpath),
 * the visualizer's `samples/` and the TensorBoard logs (`tb/`); plus metrics.jsonl, a
 * machine-readable log that replaces Lightning's metrics.csv.
 *
 * Layout:
 *     <run>/config.yaml        the resolved config (text given by the caller; atomic write)
 *     <run>/checkpoints/       safetensors checkpoints (train/ckptfiles.h finds and prunes them)
 *     <run>/samples/           sample grids (train/grid.h)
 *     <run>/tb/                TensorBoard event files (io/tbevents.h)
 *     <run>/metrics.jsonl      one JSON object per line (below)
 *
 *     char dir[4096];
 *     lm_rundir_name(dir, sizeof dir, out_root, "lama-fourier", time(NULL));
 *     lm_rundir_create(dir, sizeof dir, config_text, 0);  // may add "_1", "_2" … on a clash
 *     lm_metrics_log *m; lm_metrics_open(&m, dir);
 *     lm_kv losses[] = {{"gen_total", 1.5}, {"discr_total", 0.7}};
 *     lm_metrics_write(m, step, epoch, "train", losses, 2, NULL, 0);
 *     lm_metrics_close(m);
 *
 * metrics.jsonl lines (keys in this order, numbers printed with %.9g, which round-trips a
 * float32; a NaN/Inf is written as null and its "group.key" listed in "nonfinite"):
 *     {"step":100,"epoch":0,"kind":"train","losses":{"gen_total":1.5},"metrics":{},"nonfinite":[]} */
#ifndef LM_RUNDIR_H
#define LM_RUNDIR_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* dst = "<out_root>/<YYYY-MM-DD_HH-MM-SS>_<experiment>" (local time of `when`). The experiment
 * name may not contain '/' and may not be empty. Too long for cap: LM_EINVAL. */
int lm_rundir_name(char *dst, size_t cap, const char *out_root, const char *experiment, time_t when);

/* Creates the run directory `dir` (parents included) with checkpoints/, samples/, tb/ and
 * writes config.yaml (config_text; NULL writes none). With exclusive set, an existing dir
 * (generated names) is not reused: "_1", "_2", … is appended, and dir (capacity cap) is
 * updated to the name used. With exclusive 0 an existing directory is used as it is (an
 * explicit --run-dir) and config.yaml replaced when config_text is given; a resume passes
 * NULL to keep the stored one. */
int lm_rundir_create(char *dir, size_t cap, const char *config_text, int exclusive);

/* The path of a run-dir member: dst = "<dir>/<name>"; LM_EINVAL if it does not fit. */
int lm_rundir_join(char *dst, size_t cap, const char *dir, const char *name);

/* ---- metrics.jsonl --------------------------------------------------------------------- */
typedef struct lm_kv {
    const char *key;
    double value;
} lm_kv;

typedef struct lm_metrics_log lm_metrics_log;

/* Opens <dir>/metrics.jsonl for appending (created if missing). */
int lm_metrics_open(lm_metrics_log **out, const char *dir);
/* Appends one line (kind "train" or "val"; keys non-empty, JSON-escaped) and flushes it to
 * the OS, so `tail -f` sees it. Written with one write(2). */
int lm_metrics_write(lm_metrics_log *m, int64_t step, int64_t epoch, const char *kind, const lm_kv *losses,
                     int n_losses, const lm_kv *metrics, int n_metrics);
/* fsyncs and closes (NULL ok). */
int lm_metrics_close(lm_metrics_log *m);

/* For a resume at `step`: rewrites <dir>/metrics.jsonl (atomically) keeping only the lines
 * whose step is <= step, so the resumed run does not log steps twice; lines that do not
 * parse (a line torn by a kill) are dropped as well. *dropped (may be NULL) receives how
 * many lines went. A missing file is fine. */
int lm_metrics_truncate_after(const char *dir, int64_t step, int *dropped);

#endif
