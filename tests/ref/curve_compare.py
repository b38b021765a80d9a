#!/usr/bin/env python3
"""curve_compare.py — lamac's training curve against the official trainer's, with the official
code against itself (a perturbed rerun) as the yardstick that tells chaos from bias
(bench/curve_vs_official.sh, docs/curves.md).

Inputs: metrics files in lamac's metrics.jsonl format (official_train.py writes the same):
--lamac (lamac train's run/metrics.jsonl), --official, and one --perturbed LABEL=FILE per
perturbed official rerun (another thread count, ATEN_CPU_CAPABILITY=default,
ONEDNN_MAX_CPU_ISA=SSE41, one ulp on one weight). The yardstick of a (term, window) cell is the
largest |mean perturbed - mean official| over the perturbed runs (the envelope, as
tests/ref/perturb.py's for the step fixtures).
Writes --json and --html (one self-contained page: inline SVG, no scripts) with
  per step   the first step at which |lamac - official| / |official| of gen_total exceeds
             --rtol (1e-3), and the same for each perturbed run vs official;
  windows    of --window steps (25): per loss term and run, mean and standard deviation;
             Welch's t test and the two-sample Kolmogorov-Smirnov test of lamac vs official
             and of each perturbed run vs official (scipy.stats); the verdict: |mean lamac -
             mean official| against the yardstick (ratio <= 1: inside), and the CI policy
             (tests/testutil.h: K x yardstick + floor);
  validation every val record of the three runs (val_ssim_total_mean, val_l1_total_mean).
Prints a summary; exits 0 (it reports, it does not assert)."""
import argparse
import html
import json
import math
import sys

K, FLOOR_REL, FLOOR_ABS = 4.0, 1e-6, 1e-7  # tests/testutil.h LM_TEST_ENV_K, _FLOOR_REL, _FLOOR_ABS


def read(path):
    train, val = {}, {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r.get('kind') == 'train' and r.get('losses'):
                train[r['step']] = r['losses']
            elif r.get('kind') == 'val':
                val[r['step']] = r['metrics']
    return train, val


def first_above(a, b, term, rtol):
    for s in sorted(b):
        if s in a and term in a[s] and term in b[s]:
            x, e = a[s][term], b[s][term]
            if x is None or e is None or abs(x - e) > rtol * abs(e):
                return s
    return None


def mean_std(v):
    mu = sum(v) / len(v)
    return mu, math.sqrt(sum((x - mu) ** 2 for x in v) / max(len(v) - 1, 1))


def tests(x, y):
    from scipy import stats
    w = stats.ttest_ind(x, y, equal_var=False)
    k = stats.ks_2samp(x, y, method="asymp") if len(x) > 0 else None
    return float(w.pvalue) if not math.isnan(w.pvalue) else 1.0, float(k.pvalue)


def windows(L, O, P, terms, width, steps):
    """P: {label: run}. Per window and term: means, spreads, tests, the yardstick verdict."""
    out = []
    for start in range(1, steps + 1, width):
        idx = [s for s in range(start, min(start + width, steps + 1))
               if s in L and s in O and all(s in R for R in P.values())]
        if not idx:
            continue
        row = {'steps': [idx[0], idx[-1]], 'terms': {}}
        for t in terms:
            x = [L[s][t] for s in idx]
            y = [O[s][t] for s in idx]
            (ml, sl), (mo, so) = mean_std(x), mean_std(y)
            means, stds, dp, wp, kp = {}, {}, {}, {}, {}
            for lab, R in P.items():
                z = [R[s][t] for s in idx]
                means[lab], stds[lab] = mean_std(z)
                dp[lab] = abs(means[lab] - mo)
                wp[lab], kp[lab] = tests(z, y)
            d_l, d_p = abs(ml - mo), max(dp.values())
            tol = K * d_p + FLOOR_REL * abs(mo) + FLOOR_ABS
            wl, kl = tests(x, y)
            row['terms'][t] = {
                'mean': dict(lamac=ml, official=mo, **{'perturbed ' + k: v for k, v in means.items()}),
                'std': dict(lamac=sl, official=so, **{'perturbed ' + k: v for k, v in stds.items()}),
                'diff_lamac': d_l, 'diff_perturbed': dp, 'yardstick': d_p,
                'ratio': d_l / d_p if d_p > 0 else (0.0 if d_l == 0 else math.inf),
                'inside_yardstick': d_l <= d_p, 'inside_ci_policy': d_l <= tol, 'ci_tol': tol,
                'welch_p': dict(lamac_vs_official=wl, **{k + '_vs_official': v for k, v in wp.items()}),
                'ks_p': dict(lamac_vs_official=kl, **{k + '_vs_official': v for k, v in kp.items()}),
            }
        out.append(row)
    return out


PALETTE = ['#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22']


def color(name, i):
    return {'official': '#1f77b4', 'lamac': '#d62728'}.get(name, PALETTE[i % len(PALETTE)])


def svg_chart(title, series, w=940, h=210):
    """A line chart: series {name: [(x, y), ...]} (lamac drawn last, on top)."""
    pts = [p for s in series.values() for p in s if p[1] is not None and math.isfinite(p[1])]
    if not pts:
        return ''
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
    y1 = y1 if y1 > y0 else y0 + 1
    x1 = x1 if x1 > x0 else x0 + 1
    ml, mr, mt, mb = 60, 10, 34, 24

    def X(x):
        return ml + (x - x0) / (x1 - x0) * (w - ml - mr)

    def Y(y):
        return mt + (1 - (y - y0) / (y1 - y0)) * (h - mt - mb)
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" class="chart">' % (w, h),
             '<text x="%d" y="13" class="t">%s</text>' % (ml, html.escape(title)),
             '<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#ccc"/>' % (ml, mt, w - ml - mr, h - mt - mb)]
    for v in (y0, (y0 + y1) / 2, y1):
        parts.append('<text x="%d" y="%.1f" class="a" text-anchor="end">%.4g</text>' % (ml - 4, Y(v) + 4, v))
    for v in (x0, (x0 + x1) / 2, x1):
        parts.append('<text x="%.1f" y="%d" class="a" text-anchor="middle">%d</text>' % (X(v), h - 8, v))
    lx = ml
    for i, (name, s) in enumerate(series.items()):
        s = [p for p in s if p[1] is not None and math.isfinite(p[1])]
        d = ' '.join('%.1f,%.1f' % (X(a), Y(b)) for a, b in s)
        c = color(name, i)
        parts.append('<polyline fill="none" stroke="%s" stroke-width="%s" stroke-opacity="0.8" points="%s"/>'
                     % (c, '1.6' if name == 'lamac' else '1', d))
        parts.append('<text x="%d" y="27" class="a" fill="%s">%s</text>' % (lx, c, html.escape(name)))
        lx += 7 * len(name) + 14
    parts.append('</svg>')
    return '\n'.join(parts)


def runs_in_order(O, P, L):
    return [('official', O)] + [('perturbed ' + k, v) for k, v in P.items()] + [('lamac', L)]


def write_html(path, res, L, O, P, VL, VO, VP, terms):
    css = ('body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}'
           'table{border-collapse:collapse;font-size:12px;margin:8px 0}td,th{border:1px solid #ddd;padding:2px 6px;'
           'text-align:right}th{background:#f4f4f4}.bad{background:#fdd}.ok{background:#efe}'
           '.chart{margin:4px}.t{font-size:13px;font-weight:600}.a{font-size:10px}')
    fa = res['first_above']
    h = ['<!doctype html><html><head><meta charset="utf-8"><title>lamac vs official: training curves</title>'
         '<style>%s</style></head><body>' % css,
         '<h1>Training curves: lamac vs the official trainer</h1>',
         '<p>%s</p>' % html.escape(res['command']),
         '<p>Per step: gen_total first differs from the official run by more than %g (relative) at step: %s.</p>' % (
             res['rtol'], ', '.join('%s <b>%s</b>' % (html.escape(k), v) for k, v in fa.items())),
         '<p>Windows of %d steps: %d of %d (term, window) cells inside the yardstick (the largest |perturbed - '
         'official| window mean difference; ratio &le; 1), %d inside the CI policy (%g &times; yardstick + floor).</p>' % (
             res['window'], res['summary']['inside_yardstick'], res['summary']['cells'],
             res['summary']['inside_ci_policy'], K)]
    for t in terms:
        h.append(svg_chart(t, {n: [(s, R[s][t]) for s in sorted(R)] for n, R in runs_in_order(O, P, L)}))
    for key in ('val_ssim_total_mean', 'val_l1_total_mean'):
        h.append(svg_chart(key, {n: [(s, V[s].get(key)) for s in sorted(V)] for n, V in runs_in_order(VO, VP, VL)}))
    labs = list(P)
    h.append('<h2>Windows</h2><table><tr><th>term</th><th>steps</th><th>mean official</th><th>mean lamac</th>'
             '<th>std official</th><th>|L-O|</th><th>yardstick</th><th>ratio</th><th>Welch p L/O</th><th>KS p L/O</th>%s</tr>'
             % ''.join('<th>Welch p %s/O</th>' % html.escape(k) for k in labs))
    for t in terms:
        for w in res['windows']:
            c = w['terms'][t]
            cls = 'ok' if c['inside_yardstick'] else ('' if c['inside_ci_policy'] else 'bad')
            vals = [c['mean']['official'], c['mean']['lamac'], c['std']['official'], c['diff_lamac'], c['yardstick'],
                    c['ratio'], c['welch_p']['lamac_vs_official'], c['ks_p']['lamac_vs_official']] + \
                   [c['welch_p'][k + '_vs_official'] for k in labs]
            h.append('<tr class="%s"><td>%s</td><td>%d-%d</td>%s</tr>' % (
                cls, t, w['steps'][0], w['steps'][1], ''.join('<td>%.4g</td>' % v for v in vals)))
    h.append('</table><p>Rows: green = inside the yardstick, white = outside it but inside the CI policy, '
             'red = outside both.</p><h2>Validation</h2><table><tr><th>step</th><th>run</th>'
             '<th>val_ssim_total_mean</th><th>val_l1_total_mean</th></tr>')
    for v in res['validation']:
        for n, _ in runs_in_order({}, P, {}):
            if n in v['runs']:
                r = v['runs'][n]
                h.append('<tr><td>%d</td><td>%s</td><td>%.6f</td><td>%.6f</td></tr>' % (
                    v['step'], html.escape(n), r.get('val_ssim_total_mean', math.nan), r.get('val_l1_total_mean', math.nan)))
    h.append('</table></body></html>')
    with open(path, 'w') as f:
        f.write('\n'.join(h))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--lamac', required=True)
    ap.add_argument('--official', required=True)
    ap.add_argument('--perturbed', action='append', required=True, help='LABEL=FILE (repeatable)')
    ap.add_argument('--window', type=int, default=25)
    ap.add_argument('--rtol', type=float, default=1e-3)
    ap.add_argument('--json', required=True)
    ap.add_argument('--html')
    ap.add_argument('--command', default='')
    a = ap.parse_args()
    L, VL = read(a.lamac)
    O, VO = read(a.official)
    P, VP = {}, {}
    for item in a.perturbed:
        lab, _, path = item.partition('=')
        P[lab], VP[lab] = read(path)
    steps = max(s for s in O if s in L and all(s in R for R in P.values()))
    terms = [t for t in O[1] if t in L[1] and all(t in R[1] for R in P.values())]
    W = windows(L, O, P, terms, a.window, steps)
    cells = [c for w in W for c in w['terms'].values()]
    others = dict([('lamac', L)] + [(k, v) for k, v in P.items()])
    res = {
        'command': a.command, 'steps': steps, 'window': a.window, 'rtol': a.rtol, 'terms': terms,
        'perturbations': list(P),
        'first_above': {k + '_vs_official': first_above(R, O, 'gen_total', a.rtol) for k, R in others.items()},
        'first_above_per_term': {t: {k + '_vs_official': first_above(R, O, t, a.rtol) for k, R in others.items()}
                                 for t in terms},
        'windows': W,
        'summary': {'cells': len(cells), 'inside_yardstick': sum(c['inside_yardstick'] for c in cells),
                    'inside_ci_policy': sum(c['inside_ci_policy'] for c in cells),
                    'welch_p_below_0.05': {k: sum(c['welch_p'][k] < 0.05 for c in cells) for k in cells[0]['welch_p']},
                    'ks_p_below_0.05': {k: sum(c['ks_p'][k] < 0.05 for c in cells) for k in cells[0]['ks_p']}},
        'outside_yardstick': [{'term': t, 'steps': w['steps'], 'ratio': w['terms'][t]['ratio'],
                               'diff_lamac': w['terms'][t]['diff_lamac'], 'yardstick': w['terms'][t]['yardstick'],
                               'mean_official': w['terms'][t]['mean']['official'],
                               'inside_ci_policy': w['terms'][t]['inside_ci_policy']}
                              for w in W for t in terms if not w['terms'][t]['inside_yardstick']],
        'validation': [{'step': s, 'runs': {n: {k: V[s][k] for k in V[s] if k.endswith('_total_mean')}
                                            for n, V in runs_in_order(VO, VP, VL) if s in V}} for s in sorted(VO)],
    }
    with open(a.json, 'w') as f:
        json.dump(res, f, indent=1)
    if a.html:
        write_html(a.html, res, L, O, P, VL, VO, VP, terms)
    s = res['summary']
    print('steps %d; gen_total first above %g relative to the official run at step: %s' % (
        steps, a.rtol, ', '.join('%s %s' % (k, v) for k, v in res['first_above'].items())))
    print('windows of %d: %d of %d (term, window) cells inside the yardstick, %d inside %g x yardstick + floor'
          % (a.window, s['inside_yardstick'], s['cells'], s['inside_ci_policy'], K))
    print('  cells with Welch p < 0.05: %s; KS p < 0.05: %s' % (
        ', '.join('%s %d' % kv for kv in s['welch_p_below_0.05'].items()),
        ', '.join('%s %d' % kv for kv in s['ks_p_below_0.05'].items())))
    for o in res['outside_yardstick']:
        print('  outside the yardstick: %-20s steps %3d-%3d  |L-O| %.3g = %.3g x yardstick %.3g (mean %.4g)%s' % (
            o['term'], o['steps'][0], o['steps'][1], o['diff_lamac'], o['ratio'], o['yardstick'], o['mean_official'],
            '' if o['inside_ci_policy'] else '  OUTSIDE the CI policy too'))
    for v in res['validation']:
        print('  val step %d: ' % v['step'] + '; '.join('%s ssim %.5f l1 %.5f' % (
            n, r.get('val_ssim_total_mean', math.nan), r.get('val_l1_total_mean', math.nan)) for n, r in v['runs'].items()))


if __name__ == '__main__':
    sys.exit(main())
