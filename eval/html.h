/* html.h — report.html: one self-contained page (no network fetch: inline CSS, inline
 * JavaScript, data embedded as JSON, pictures as data: URIs) over the files an evaluation or
 * a training run has already written. No official counterpart (the official code leaves
 * metrics.csv / TensorBoard).
 *
 * What it shows, from what:
 *   - evaluation (dir/metrics.json, else run_dir/eval/metrics.json): the totals table, the
 *     metrics not computed with their reason, one chart per metric against masked area;
 *   - resolution sweep (the same folder's sweep.json, `lamac eval --sizes`): one chart per
 *     metric against image size, one series per mask preset;
 *   - training (run_dir/metrics.jsonl): one chart per logged loss against step, one chart per
 *     validation metric against step (all images and each masked-area bin), and the newest
 *     sample grid under run_dir/samples/;
 *   - examples: the best, median and worst image of per_image.csv by LPIPS (by SSIM when no
 *     LPIPS was computed), each a row image | masked input | prediction (thumbnails at most
 *     192 px high).
 * The charts are drawn in the browser into inline SVG; when done the page says
 * "charts drawn: K" in #lm-status, and a script error lands in #lm-errors as
 * "report error: ...". */
#ifndef LM_HTML_H
#define LM_HTML_H

#include <stddef.h>

/* Writes dir/report.html atomically (dir must exist). run_dir: a training run directory, or
 * NULL for an evaluation folder alone. Absent inputs leave their section out; an example
 * image that cannot be read is shown as a note. Fails on a write error (LM_EIO), on an input
 * that exists but cannot be read, or out of memory. */
int lm_report_html(const char *dir, const char *run_dir);

/* Writes dir/report.html of an ablation grid (`lamac ablate`, run/ablate.h): json is the
 * object {"table": <table.json>, "runs": [{"run", "variant", "seed", "lines": [metrics.jsonl
 * objects]}], "bins": [{"variant", "testset", "metric", "pts": [[bin centre %, mean]]}]},
 * embedded as it is. The page shows the table (the paper's rows marked), one chart per logged
 * loss and per validation metric with every run overlaid, and one chart per test set and
 * metric against masked area with one series per variant. */
int lm_report_html_ablate(const char *dir, const char *title, const char *json, size_t n);

#endif
