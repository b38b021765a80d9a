#!/usr/bin/env python3
"""Generates the fixtures of tests/check_export.c (pickle/zip writer, lamac export).

Run from the repo root with Debian's python3-torch and the official code:
    LAMA_REF=/path/to/lama /usr/bin/python3 tests/ref/gen_export_fixtures.py
Reads tests/fixtures/export/run/config.yaml, a tiny LaMa-Fourier config written by lamac itself:
    lamac config show configs/training/lama-fourier.yaml generator.ngf=4 generator.n_blocks=1 \
        discriminator.ndf=4 > tests/fixtures/export/run/config.yaml
Writes into tests/fixtures/export/:
  run/checkpoints/last.safetensors  a checkpoint in the lamac trainer's layout: generator.*,
                                    generator_average.* (EMA), discriminator.*, optimizer.*,
                                    loss_resnet_pl.*; metadata config / step / format
  expected_generator.pth            torch.save(OrderedDict) of what `lamac export` writes by
                                    default: the EMA weights under generator.*
  expected_raw_discr.pth            ... with --raw --with-discr: trained generator + discriminator
  expected_best.ckpt                the lama-dir checkpoint dict (state_dict, epoch, global_step,
                                    pytorch-lightning_version)
  features_torch.pth                torch.save of a dict with every dtype, a scalar and an empty
                                    tensor, nested dicts and lists, ints of every pickle width,
                                    floats, str, bools, None, and a 1200-key dict (SETITEMS batches);
                                    tests/check_export.c builds the same value with io/pthwrite.c
"""
import collections, copy, os, sys

import torch
torch.set_num_threads(int(__import__('os').environ.get('LAMAC_FIXTURE_THREADS', '1')))  # pinned (README "Tests")
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # tests/ref: harness.py, safetensors_io.py
import harness  # noqa: E402
harness.setup()  # $LAMA_REF checked and first on sys.path, import stubs installed
sys.path.insert(0, HERE)
from gen_pth_fixtures import save_st  # noqa: E402
from saicinpainting.training.modules import make_generator  # noqa: E402
from saicinpainting.training.modules.pix2pixhd import NLayerDiscriminator  # noqa: E402

OUT = os.path.join(ROOT, "tests", "fixtures", "export")
STEP = 42


def randomize(net, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for k, v in net.state_dict().items():
            if v.dtype.is_floating_point:
                v.copy_(torch.randn(v.shape, generator=g) * 0.1 + (1.0 if k.endswith("running_var") else 0.0))
                if k.endswith("running_var"):
                    v.abs_()
            else:
                v.fill_(seed)


def prefixed(prefix, sd):
    return collections.OrderedDict((prefix + k, v.clone()) for k, v in sd.items())


def features():
    """Mirrored in tests/check_export.c (build_features): keep both in step."""
    base = torch.arange(24, dtype=torch.float32) * 0.5 - 3  # exact in every float dtype
    sd = collections.OrderedDict()
    sd["f32"] = base.reshape(2, 3, 4)
    sd["f64"] = base[:6].double().reshape(3, 2)
    sd["f16"] = base[:10].half()
    sd["bf16"] = base[:8].bfloat16().reshape(2, 2, 2)
    sd["i64"] = torch.arange(-3, 3, dtype=torch.int64)
    sd["i32"] = torch.arange(-2, 4, dtype=torch.int32).reshape(2, 3)
    sd["i16"] = torch.arange(-300, 300, 100, dtype=torch.int16)
    sd["i8"] = torch.arange(-4, 4, dtype=torch.int8)
    sd["u8"] = torch.arange(250, 256, dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True])
    sd["scalar"] = torch.tensor(3.5)
    sd["empty"] = torch.zeros(0, 3)
    sd["r5"] = base.reshape(2, 3, 1, 2, 2)
    return {
        "state_dict": sd,
        "epoch": 7, "small": 200, "medium": 60000, "big": 3000000000, "neg": -5, "negbig": -70000,
        "huge": -(2 ** 62), "lr": 0.001, "neg_float": -2.5e-300, "name": "lamac", "unicode": "gr\u00f6\u00dfe",
        "flag": True, "off": False, "nothing": None,
        "hparams": {"a": {"b": 2, "c": [1, 2.5, "x", None]}, "empty_list": [], "empty_dict": {}},
        "many": {"k%d" % i: i for i in range(1200)},
        "long_list": list(range(1100)),
    }


def main():
    cfg = yaml.safe_load(open(os.path.join(OUT, "run", "config.yaml")))
    gk = dict(cfg["generator"])
    G = make_generator(cfg, **gk)
    dk = dict(cfg["discriminator"]); dk.pop("kind")
    D = NLayerDiscriminator(**dk)
    randomize(G, 1)
    randomize(D, 2)
    Gavg = copy.deepcopy(G)
    randomize(Gavg, 3)
    g = torch.Generator().manual_seed(4)
    ckpt = collections.OrderedDict()
    ckpt.update(prefixed("generator.", G.state_dict()))
    ckpt.update(prefixed("generator_average.", Gavg.state_dict()))
    ckpt.update(prefixed("discriminator.", D.state_dict()))
    ckpt["optimizer.generator.state.0.exp_avg"] = torch.randn(4, 4, generator=g)
    ckpt["optimizer.generator.state.0.step"] = torch.tensor(float(STEP))
    ckpt["loss_resnet_pl.impl.conv1.weight"] = torch.randn(2, 3, 3, 3, generator=g)
    text = open(os.path.join(OUT, "run", "config.yaml")).read()
    save_st(ckpt, os.path.join(OUT, "run", "checkpoints", "last.safetensors"),
            metadata={"config": text, "step": str(STEP), "format": "lamac-checkpoint-1"})

    torch.save(prefixed("generator.", Gavg.state_dict()), os.path.join(OUT, "expected_generator.pth"))
    raw = prefixed("generator.", G.state_dict())
    raw.update(prefixed("discriminator.", D.state_dict()))
    torch.save(raw, os.path.join(OUT, "expected_raw_discr.pth"))
    torch.save({"state_dict": prefixed("generator.", Gavg.state_dict()), "epoch": 0, "global_step": STEP,
                "pytorch-lightning_version": "1.2.9"}, os.path.join(OUT, "expected_best.ckpt"))
    torch.save(features(), os.path.join(OUT, "features_torch.pth"))
    print("generator tensors:", len(G.state_dict()), "discriminator:", len(D.state_dict()))


if __name__ == "__main__":
    main()
