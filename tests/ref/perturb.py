"""perturb.py — the perturbations that measure the official code's own rounding spread (the
"envelope" of tests/testutil.h's parity policy, README "Tests"), shared by the fixture scripts.

Each runs the official code in a fresh interpreter (ATEN_CPU_CAPABILITY and ONEDNN_MAX_CPU_ISA
must be set before torch loads): intra-op threads 1/2/3, ATen's scalar kernels, oneDNN limited
to SSE4.1, and the input moved by one ulp of its dtype. A script's worker mode reads
LAMAC_FIXTURE_THREADS (default 1) for its thread count and `--nudge` for the ulp."""
import os
import subprocess
import sys

PERTURBATIONS = [  # (label, environment, nudge the input by one ulp of its dtype)
    ('threads 1', {'LAMAC_FIXTURE_THREADS': '1'}, False),
    ('threads 2', {'LAMAC_FIXTURE_THREADS': '2'}, False),
    ('threads 3', {'LAMAC_FIXTURE_THREADS': '3'}, False),
    ('ATEN_CPU_CAPABILITY=default', {'ATEN_CPU_CAPABILITY': 'default'}, False),
    ('ONEDNN_MAX_CPU_ISA=SSE41', {'ONEDNN_MAX_CPU_ISA': 'SSE41'}, False),
    ('image + 1 ulp', {}, True),
]


def fixture_threads():
    """The thread count of a fixture run: LAMAC_FIXTURE_THREADS, default 1 (the C tests pin 1)."""
    return int(os.environ.get('LAMAC_FIXTURE_THREADS', '1'))


def run_worker(script, args, env, nudge):
    """Runs `python3 script args [--nudge]` in a fresh interpreter under os.environ + env."""
    cmd = [sys.executable, os.path.abspath(script)] + list(args) + (['--nudge'] if nudge else [])
    subprocess.run(cmd, env=dict(os.environ, **env), check=True)
