#!/usr/bin/env python3
"""gen_curve_fixtures.py — the fixture of tests/check_curve.c (suite curve): a 40-step run of
the official trainer (tests/ref/official_train.py) on a committed batch stream from committed
weights, with its own spread under perturbations as the envelope (docs/curves.md).

Writes tests/fixtures/curve/:
  init.safetensors    generator.* and discriminator.* (official names) of the tiny demo model
                      (configs/training/demo.yaml + tests/testutil.h LM_TEST_TINY_TRAIN: ffc
                      ngf 8, 1 block, discriminator ndf 8), as `lamac train ... max_steps=0`
                      initialises them (seed 0)
  stream.safetensors  40 batches (2 x 32 x 32) that lamac's loader produced on `lamac synth`
                      data (`lamac train --dump-batches`), images stored as U8 (round(x * 255)),
                      masks as U8: both sides read the same values (train/batchstream.h)
  config.yaml         the resolved config of that run (what official_train.py reads)
  official.safetensors
      loss.<term> (40,)             the official per-step loss terms (float64 of the float32)
      pert.<label>.loss.<term> (40,) the same for each perturbed rerun
      envelope.<term> (W,)          per window of WINDOW steps: the largest |window mean of a
                                    perturbed run - window mean of the official run|
      metadata: terms, window, steps, perturbations
Perturbations (tests/ref/perturb.py's, and two more): threads 2, threads 3,
ATEN_CPU_CAPABILITY=default, ONEDNN_MAX_CPU_ISA=SSE41, both of those at once (the kernels of
CTest's curve_other_kernels pass), the batches' images moved by one ulp, one ulp on one
generator weight; the official run itself at 1 thread.

  LAMA_REF=/path/to/lama /usr/bin/python3 tests/ref/gen_curve_fixtures.py [--lamac build/lamac]
(needs a built lamac for the init and the stream; takes about a minute on 2 cores)
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
sys.path.insert(0, HERE)
import safetensors_io as st  # noqa: E402
import torch  # noqa: E402

OUT = os.path.join(ROOT, 'tests', 'fixtures', 'curve')
STEPS, WINDOW = 40, 10
# tests/testutil.h LM_TEST_TINY_TRAIN, and what the test adds
TINY = ['generator.ngf=8', 'generator.n_blocks=1', 'discriminator.ndf=8', 'data.train.out_size=32',
        'data.batch_size=2', 'trainer.kwargs.log_every_n_steps=1', 'trainer.kwargs.max_steps=%d' % STEPS,
        'training_model.visualize_each_iters=1000000000', 'evaluator.lpips=false', 'evaluator.fid=false',
        '~data.val.indir']
PERTURBATIONS = [  # (label, environment, official_train.py flags)
    ('threads2', {}, ['--threads', '2']),
    ('threads3', {}, ['--threads', '3']),
    ('aten_default', {'ATEN_CPU_CAPABILITY': 'default'}, []),
    ('sse41', {'ONEDNN_MAX_CPU_ISA': 'SSE41'}, []),
    ('aten_default+sse41', {'ATEN_CPU_CAPABILITY': 'default', 'ONEDNN_MAX_CPU_ISA': 'SSE41'}, []),
    ('image_ulp', {}, ['--nudge-image']),
    ('nudge', {}, ['--nudge-weight']),
]


def sh(cmd, env=None):
    # OMP_WAIT_POLICY=PASSIVE: idle OpenMP threads sleep (a spinning 2-thread run crawls on a busy
    # machine); lamac's default, and the numbers do not change
    full = dict(os.environ, **(env or {}))
    full.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    subprocess.run(cmd, check=True, env=full, stdout=subprocess.DEVNULL)


def losses(path):
    per = {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r['kind'] == 'train':
                per[r['step']] = r['losses']
    return per


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--lamac', default=os.path.join(ROOT, 'build', 'lamac'))
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='lamac_curvefx_')
    data = os.path.join(tmp, 'data')
    sh([a.lamac, 'synth', data])
    cfg = os.path.join(ROOT, 'configs', 'training', 'demo.yaml')
    env = {'LAMAC_DATA': data}
    sh([a.lamac, 'train', cfg] + TINY + ['trainer.kwargs.max_steps=0', '--run-dir', os.path.join(tmp, 'init'),
                                        '--threads', '1', '--no-tb'], env)
    sh([a.lamac, 'train', cfg] + TINY + ['--run-dir', os.path.join(tmp, 'dump'), '--threads', '1', '--no-tb',
                                        '--dump-batches', os.path.join(tmp, 'stream_f32.safetensors')], env)
    ck, _ = st.load(os.path.join(tmp, 'init', 'checkpoints', 'last.safetensors'))
    init = {k: v for k, v in ck.items() if k.startswith('generator.') or k.startswith('discriminator.')}
    st.save(init, os.path.join(OUT, 'init.safetensors'))
    s, meta = st.load(os.path.join(tmp, 'stream_f32.safetensors'))
    out, om = {}, {'format': meta['format'], 'batches': meta['batches']}
    for k in range(int(meta['batches'])):
        out['image.%06d' % k] = torch.round(s['image.%06d' % k] * 255).to(torch.uint8)
        out['mask.%06d' % k] = s['mask.%06d' % k].to(torch.uint8)
        for q in ('epoch', 'batch'):
            om['%s.%06d' % (q, k)] = meta['%s.%06d' % (q, k)]
    stream = os.path.join(OUT, 'stream.safetensors')
    st.save(out, stream, metadata=om)
    config = os.path.join(OUT, 'config.yaml')
    with open(os.path.join(tmp, 'dump', 'config.yaml')) as f, open(config, 'w') as g:
        g.write('# the resolved config of the fixture run (tests/ref/gen_curve_fixtures.py); official_train.py reads it\n')
        g.write(f.read())
    runs = {}
    for label, penv, flags in [('official', {}, [])] + PERTURBATIONS:
        path = os.path.join(tmp, label + '.jsonl')
        sh([sys.executable, os.path.join(HERE, 'official_train.py'), '--config', config, '--init',
            os.path.join(OUT, 'init.safetensors'), '--stream', stream, '--steps', str(STEPS), '--val-every', '0',
            '--out', path] + flags, penv)
        runs[label] = losses(path)
        print(label, 'step %d gen_total %.9g' % (STEPS, runs[label][STEPS]['gen_total']), flush=True)
    terms = list(runs['official'][1].keys())
    res = {}
    for label, per in runs.items():
        pre = 'loss.' if label == 'official' else 'pert.%s.loss.' % label
        for t in terms:
            res[pre + t] = torch.tensor([per[k][t] for k in range(1, STEPS + 1)], dtype=torch.float64)
    nw = STEPS // WINDOW
    for t in terms:
        o = res['loss.' + t].view(nw, WINDOW).mean(1)
        dev = torch.zeros(nw, dtype=torch.float64)
        for label, _, _ in PERTURBATIONS:
            dev = torch.maximum(dev, (res['pert.%s.loss.%s' % (label, t)].view(nw, WINDOW).mean(1) - o).abs())
        res['envelope.' + t] = dev
        print('%-20s window means %s envelope %s' % (t, ' '.join('%.6g' % v for v in o.tolist()),
                                                      ' '.join('%.2g' % v for v in dev.tolist())))
    st.save(res, os.path.join(OUT, 'official.safetensors'),
            metadata={'terms': ','.join(terms), 'window': str(WINDOW), 'steps': str(STEPS),
                      'perturbations': ','.join(p[0] for p in PERTURBATIONS)})
    subprocess.run(['rm', '-rf', tmp], check=True)


if __name__ == '__main__':
    main()
