#!/usr/bin/env python3
"""Round trip of `lamac export` through PyTorch and the official loader.

Runs only where python3-torch is installed (Debian: /usr/bin/python3); tests/check_export.c
covers the same files on the C side everywhere. From the repo root, after building:
    LAMA_REF=/path/to/lama /usr/bin/python3 tests/ref/check_export_roundtrip.py [path/to/lamac]
Checks, exiting non-zero on the first mismatch:
  1. `lamac export RUN --format pth` loads with torch.load (and weights_only=True where the
     torch version has it) and equals the run's EMA generator bit for bit; --raw --with-discr
     gives the trained generator + discriminator;
  2. the committed tests/fixtures/export/lamac_generator.pth and features_lamac.pth (our
     writer's output, fuzz seeds) equal torch.save's expected_generator.pth and
     features_torch.pth as Python objects (types, key order, dtypes, strides, values);
  3. `--format lama-dir`: config.yaml + models/best.ckpt load through the official
     saicinpainting.training.trainers.load_checkpoint (as bin/predict.py calls it, with
     predict_only=True and visualizer.kind=noop) with strict=True, and the official generator
     then holds the exported weights; without LAMA_REF this part is skipped (said so);
  4. `--format safetensors --dtype f16` equals torch's fp16 rounding of the weights;
  5. `lamac import` of the Lightning fixture equals torch.load's state_dict.
"""
import os, subprocess, sys, tempfile, types

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "tests", "fixtures", "export")
RUN = os.path.join(FIX, "run")
LAMAC = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("LAMAC_BIN", os.path.join(ROOT, "build", "lamac"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # tests/ref: harness.py, safetensors_io.py
import safetensors_io as st  # noqa: E402

FAIL = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAIL.append(what)


def lamac(*args):
    r = subprocess.run([LAMAC, *args], capture_output=True, text=True)
    if r.returncode:
        sys.exit("lamac %s failed: %s%s" % (" ".join(args), r.stdout, r.stderr))
    return r.stdout


def load_st_all(path):
    return st.load(path)[0]


def eq_obj(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, torch.Tensor):
        return a.dtype == b.dtype and a.shape == b.shape and a.stride() == b.stride() and torch.equal(a, b)
    if isinstance(a, dict):
        return list(a.keys()) == list(b.keys()) and all(eq_obj(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(eq_obj(x, y) for x, y in zip(a, b))
    return a == b


def same(a, b, what):
    ok = list(a.keys()) == list(b.keys()) and all(
        a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and torch.equal(a[k], b[k]) for k in a)
    check(ok, "%s (%d tensors)" % (what, len(a)))


def main():
    src = load_st_all(os.path.join(RUN, "checkpoints", "last.safetensors"))
    gen_ema = {k.replace("generator_average.", "generator.", 1): v for k, v in src.items()
               if k.startswith("generator_average.")}
    gen_raw = {k: v for k, v in src.items() if k.startswith("generator.")}
    dis = {k: v for k, v in src.items() if k.startswith("discriminator.")}
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "g.pth")
        lamac("export", RUN, "--format", "pth", "--out", p)
        sd = torch.load(p, map_location="cpu")
        check(type(sd).__name__ == "OrderedDict", "pth: the state_dict is an OrderedDict")
        same(sd, gen_ema, "pth: torch.load equals the EMA generator")
        try:
            sd2 = torch.load(p, map_location="cpu", weights_only=True)
            same(sd2, gen_ema, "pth: torch.load(weights_only=True)")
        except TypeError:
            print("skip weights_only: torch %s has no such argument" % torch.__version__)
        p = os.path.join(d, "raw.pth")
        lamac("export", RUN, "--format", "pth", "--raw", "--with-discr", "--out", p)
        same(torch.load(p), {**gen_raw, **dis}, "pth --raw --with-discr: trained generator + discriminator")

        same(torch.load(os.path.join(FIX, "lamac_generator.pth")), torch.load(os.path.join(FIX, "expected_generator.pth")),
             "committed lamac_generator.pth equals torch.save's expected_generator.pth")

        a = torch.load(os.path.join(FIX, "features_lamac.pth"))
        b = torch.load(os.path.join(FIX, "features_torch.pth"))
        check(eq_obj(a, b), "committed features_lamac.pth (every dtype, nested values) equals torch.save's features_torch.pth")

        p = os.path.join(d, "g16.safetensors")
        lamac("export", RUN, "--format", "safetensors", "--dtype", "f16", "--out", p)
        half = {k: (v.half() if v.is_floating_point() else v) for k, v in gen_ema.items()}
        same(load_st_all(p), half, "safetensors --dtype f16: torch's fp16 rounding")

        p = os.path.join(d, "light.safetensors")
        lamac("import", os.path.join(ROOT, "tests", "fixtures", "weights", "lightning.ckpt"), "--out", p)
        ck = torch.load(os.path.join(ROOT, "tests", "fixtures", "weights", "lightning.ckpt"), map_location="cpu")
        same(load_st_all(p), dict(ck["state_dict"]), "import lightning.ckpt: equals torch.load's state_dict")

        out = os.path.join(d, "lama")
        lamac("export", RUN, "--format", "lama-dir", "--out", out)
        ck = torch.load(os.path.join(out, "models", "best.ckpt"), map_location="cpu")
        same(ck["state_dict"], gen_ema, "lama-dir: models/best.ckpt state_dict")
        check(ck.get("global_step") == 42, "lama-dir: global_step from the checkpoint")
        if os.environ.get("LAMA_REF"):
            official_load(out, gen_ema)
        else:
            print("skip official load_checkpoint: set LAMA_REF to a checkout of advimman/lama")
    if FAIL:
        sys.exit("%d check(s) failed" % len(FAIL))
    print("all export round-trip checks passed")


class Cfg(dict):
    """The little of OmegaConf's DictConfig that make_training_model and predict.py use."""

    def __init__(self, d):
        super().__init__({k: Cfg(v) if isinstance(v, dict) else v for k, v in d.items()})

    def __getattr__(self, k):
        try:
            return self[k]
        except KeyError:
            raise AttributeError(k)

    def __setattr__(self, k, v):
        self[k] = v


def official_load(model_dir, expected):
    import yaml
    import harness
    harness.setup()  # official code on sys.path, kornia/pl/scipy stubs

    class Auto(types.ModuleType):
        def __call__(self, *a, **k):
            return None

        def __getattr__(self, name):
            if name.startswith("__"):
                raise AttributeError(name)
            return Auto(self.__name__ + "." + name) if name[0].islower() else type(name, (torch.nn.Module,), {})

    # modules the trainer imports but never uses when predict_only=True
    for n in ("saicinpainting.evaluation", "saicinpainting.evaluation.utils", "saicinpainting.evaluation.refinement",
              "saicinpainting.training.data", "saicinpainting.training.data.datasets",
              "saicinpainting.training.data.masks", "saicinpainting.training.visualizers", "omegaconf", "easydict",
              "kornia.filters", "kornia.morphology", "kornia.augmentation", "kornia.constants"):
        sys.modules.setdefault(n, Auto(n))
    pl = sys.modules["pytorch_lightning"]

    class LightningModule(torch.nn.Module):
        def __init__(self, *a, **k):
            super().__init__()

        def on_load_checkpoint(self, checkpoint):
            pass

    pl.LightningModule = LightningModule
    from saicinpainting.training.trainers import load_checkpoint

    # bin/predict.py
    with open(os.path.join(model_dir, "config.yaml")) as f:
        train_config = Cfg(yaml.safe_load(f))
    train_config.training_model.predict_only = True
    train_config.visualizer.kind = "noop"
    model = load_checkpoint(train_config, os.path.join(model_dir, "models", "best.ckpt"), strict=True,
                            map_location="cpu")
    got = {"generator." + k: v for k, v in model.generator.state_dict().items()}
    same(got, expected, "lama-dir: official load_checkpoint(strict=True) builds the generator with the exported weights")


if __name__ == "__main__":
    main()
