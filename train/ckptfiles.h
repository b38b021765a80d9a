/* ckptfiles.h — which checkpoint files a run keeps and which one a resume loads. Mirrors
 * Lightning's ModelCheckpoint as bin/train.py configures it (trainer.checkpoint_kwargs:
 * save_top_k 5 by the monitor, mode max, save_last) and resume_from_checkpoint — except
 * that a --resume path without a valid checkpoint is an error (Lightning 1.2 silently
 * starts from scratch when the file is missing) and a torn newest file is skipped.
 *
 * Files (all in <run>/checkpoints/, written atomically by lm_safetensors_writer / lm_weights_save):
 *     last.safetensors                 every checkpoint save (save_last)
 *     epoch=E-step=S.safetensors       the best save_top_k by the monitor (Lightning's name)
 *
 * Resume:
 *     lm_ckpt_found f;
 *     if (lm_ckpt_find(&f, resume_arg, "lamac-ckpt-", stderr) < 0) fail;  // error: none valid
 *     ... load f.path (step f.step) ...; lm_ckpt_found_free(&f);
 * Best-k:
 *     lm_topk *t; lm_topk_create(&t, ckpt_dir, 5, LM_TOPK_MAX);
 *     lm_topk_restore(t, meta_string_from_the_resumed_checkpoint);   // when resuming
 *     char path[4096]; int keep;
 *     lm_topk_offer(t, epoch, step, value, path, sizeof path, &keep);
 *     if (keep) { write the checkpoint to path (with metadata "topk" = lm_topk_state(t) after
 *                 commit, or before: see lm_topk_state); lm_topk_commit(t); } // deletes the evicted file
 */
#ifndef LM_CKPTFILES_H
#define LM_CKPTFILES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- validation and discovery ---------------------------------------------------------- */
/* Checks one checkpoint file: it opens as safetensors (header and all data offsets inside
 * the file: a truncated file fails here), its metadata "format" starts with format_prefix
 * (NULL: any non-empty format) and its metadata "step" is an integer >= 0 (to *step). The
 * message says what is wrong. */
int lm_ckpt_validate(const char *path, const char *format_prefix, int64_t *step);

typedef struct lm_ckpt_found {
    char *path;   /* owned */
    int64_t step;
    int skipped;  /* invalid *.safetensors files passed over */
} lm_ckpt_found;

/* Resolves a --resume argument: a checkpoint file (must be valid), a run directory (its
 * checkpoints/ folder is searched) or a checkpoints folder. In a folder every
 * *.safetensors is validated and the valid one with the highest step wins (ties: last.
 * safetensors, then the smallest name); each invalid file is reported on `warn` (NULL:
 * silent) as "warning: skipping checkpoint PATH: REASON". No valid checkpoint: LM_EINVAL
 * naming the folder and how many files were rejected (never a silent fresh start). */
int lm_ckpt_find(lm_ckpt_found *out, const char *path, const char *format_prefix, FILE *warn);
void lm_ckpt_found_free(lm_ckpt_found *f); /* NULL ok */

/* ---- keep the best k ------------------------------------------------------------------- */
enum { LM_TOPK_MIN = 0, LM_TOPK_MAX = 1 };

typedef struct lm_topk lm_topk;

/* k: save_top_k (-1 keeps all, 0 none). mode: LM_TOPK_MAX / LM_TOPK_MIN. */
int lm_topk_create(lm_topk **out, const char *ckpt_dir, int k, int mode);
void lm_topk_free(lm_topk *t); /* NULL ok */

/* Should a checkpoint at (epoch, step) with monitor value `value` be kept? *keep = 1 and
 * path = <ckpt_dir>/epoch=E-step=S.safetensors when there is room or it strictly beats the
 * worst kept one (Lightning's rule); a NaN value is never kept. Nothing changes until
 * lm_topk_commit (call it only after the file was written). */
int lm_topk_offer(lm_topk *t, int64_t epoch, int64_t step, double value, char *path, size_t cap, int *keep);
/* Records the offered checkpoint and deletes the file it evicts (if any). A failed delete
 * is reported but the bookkeeping stays right. */
int lm_topk_commit(lm_topk *t);

int lm_topk_count(const lm_topk *t);
/* i-th kept entry, best first. */
int lm_topk_get(const lm_topk *t, int i, int64_t *epoch, int64_t *step, double *value);
/* The state as one line for checkpoint metadata ("epoch:step:value;…", values %.17g). The
 * string is owned by t and valid until the next call on t. */
const char *lm_topk_state(lm_topk *t);
/* Replaces the entries with those of a state string (a resume). Files not named in it are
 * never deleted by t. LM_EINVAL on a malformed string. */
int lm_topk_restore(lm_topk *t, const char *state);

#endif
