#!/usr/bin/env python3
"""Generates the fixtures of tests/check_pth.c and tests/check_safetensors.c.

Run from the repo root with Debian's python3-torch:
    /usr/bin/python3 tests/ref/gen_pth_fixtures.py
Writes into tests/fixtures/weights/:
  st_py.safetensors                 written by tests/ref/safetensors_io.py (known arange values)
  lpips/{vgg,alex,squeeze}.pth      copies of the real legacy files (storages on 'cuda:0')
  lpips_{vgg,alex,squeeze}_expected.safetensors
                                    what torch.load(map_location='cpu') gives for the real
                                    legacy files: $LPIPS_DIR/*.pth, by default
                                    $LAMA_REF/models/lpips_models/*.pth (the official
                                    checkout ships them), else the copies already in lpips/
  small_zip.pth, small_legacy.pth   a module state_dict plus strided/offset/fp16/... tensors,
                                    saved in the zip and in the legacy format
  small_expected.safetensors        their contiguous values
  deflated.pth                      small_zip.pth re-packed with deflate (must be refused clearly)
  lightning.ckpt                    a Lightning-like checkpoint dict
  lightning_expected.safetensors    its state_dict; __metadata__ = the scalars lamac must report
"""
import argparse, collections, json, os, shutil, struct, sys

import torch
torch.set_num_threads(int(__import__('os').environ.get('LAMAC_FIXTURE_THREADS', '1')))  # pinned (README "Tests")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # tests/ref: harness.py, safetensors_io.py
import safetensors_io as st  # noqa: E402

OUT = os.path.join(ROOT, "tests", "fixtures", "weights")
LPIPS = os.environ.get("LPIPS_DIR") or (os.path.join(os.environ["LAMA_REF"], "models", "lpips_models")
                                     if os.environ.get("LAMA_REF") else os.path.join(OUT, "lpips"))

DT = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
      torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
      torch.uint8: "U8", torch.bool: "BOOL"}


def save_st(tensors, path, metadata=None):
    """safetensors writer for every dtype lamac reads, with the metadata first (as lamac's own
    writer orders it; safetensors_io.save puts it last)."""
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for k, t in tensors.items():
        t = t.detach().contiguous().cpu()
        if t.dtype == torch.bfloat16:
            b = t.view(torch.int16).numpy().tobytes()
        else:
            b = t.numpy().tobytes()
        header[k] = {"dtype": DT[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def small_dict():
    g = torch.Generator().manual_seed(7)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ConvTranspose2d(4, 2, 3))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
        net[1].running_mean.copy_(torch.randn(4, generator=g))
        net[1].num_batches_tracked.fill_(5)
    sd = net.state_dict()  # OrderedDict with _metadata
    base = torch.arange(100, dtype=torch.float32).reshape(10, 10) * 0.25 - 3
    sd["view"] = base[2:5, 1:4]              # offset 21, strides (10, 1): not contiguous
    sd["row"] = base[7]                      # offset 70, contiguous
    sd["transposed"] = base.t()              # strides (1, 10)
    sd["every_other"] = base[::2, 1::3]      # strides (20, 3)
    sd["expanded"] = torch.arange(3.0).expand(4, 3)  # stride 0
    sd["half"] = torch.randn(3, 5, generator=g).half()
    sd["half_view"] = torch.randn(6, 4, generator=g).half()[1:, 2]
    sd["bf16"] = torch.randn(2, 3, generator=g).bfloat16()
    sd["f64"] = torch.randn(5, generator=g).double()
    sd["i64"] = torch.arange(-4, 8, dtype=torch.int64).reshape(3, 4)
    sd["i32"] = torch.arange(10, dtype=torch.int32) * 1000
    sd["i16"] = torch.arange(-3, 3, dtype=torch.int16)
    sd["i8"] = torch.arange(-5, 5, dtype=torch.int8)
    sd["u8"] = torch.arange(200, 210, dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True, True])
    sd["empty"] = torch.zeros(0, 3)
    sd["scalar"] = torch.tensor(3.5)
    sd["param"] = torch.nn.Parameter(torch.randn(2, 2, generator=g))
    sd["nested.inner"] = torch.ones(2)  # a dotted key at top level
    return sd


def main():
    ap = argparse.ArgumentParser()
    ap.parse_args()
    os.makedirs(OUT, exist_ok=True)

    # 1. a file written by safetensors_io.py (the fixture scripts' writer)
    st.save({
        "f32": torch.arange(24, dtype=torch.float32).reshape(2, 3, 4) * 0.5 - 3,
        "f16": (torch.arange(6, dtype=torch.float32) * 0.25).half(),
        "bf16": (torch.arange(6, dtype=torch.float32) - 2.5).bfloat16(),
        "i64": torch.arange(-3, 3, dtype=torch.int64),
        "i32": torch.arange(5, dtype=torch.int32) * 7,
        "u8": torch.arange(250, 256, dtype=torch.uint8),
        "bool": torch.tensor([True, False, False, True]),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 4),
    }, os.path.join(OUT, "st_py.safetensors"), metadata={"step": 42, "note": 'quote " and \\ and é'})

    # 2. real legacy LPIPS files (copied into the fixtures so the test needs nothing outside the repo)
    os.makedirs(os.path.join(OUT, "lpips"), exist_ok=True)
    for name in ("vgg", "alex", "squeeze"):
        src, dst = os.path.join(LPIPS, name + ".pth"), os.path.join(OUT, "lpips", name + ".pth")
        if not os.path.exists(dst) or not os.path.samefile(src, dst):
            shutil.copyfile(src, dst)
        d = torch.load(os.path.join(OUT, "lpips", name + ".pth"), map_location="cpu")
        save_st(d, os.path.join(OUT, f"lpips_{name}_expected.safetensors"))

    # 3. zip and legacy serialisations of the same dict
    sd = small_dict()
    torch.save(sd, os.path.join(OUT, "small_zip.pth"))
    torch.save(sd, os.path.join(OUT, "small_legacy.pth"), _use_new_zipfile_serialization=False)
    back = torch.load(os.path.join(OUT, "small_zip.pth"))
    save_st(collections.OrderedDict((k, v) for k, v in back.items()), os.path.join(OUT, "small_expected.safetensors"))

    # 3b. the zip file re-packed with deflate (torch.save never compresses): lamac refuses it clearly
    import zipfile
    with zipfile.ZipFile(os.path.join(OUT, "small_zip.pth")) as zin, \
            zipfile.ZipFile(os.path.join(OUT, "deflated.pth"), "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))

    # 4. a Lightning-like checkpoint
    g = torch.Generator().manual_seed(11)
    state = collections.OrderedDict()
    state["generator.model.1.ffc.convl2l.weight"] = torch.randn(8, 4, 7, 7, generator=g)
    state["generator.model.2.bn_l.running_var"] = torch.rand(8, generator=g)
    state["generator.model.2.bn_l.num_batches_tracked"] = torch.tensor(17)
    state["discriminator.model0.0.weight"] = torch.randn(4, 3, 4, 4, generator=g)
    ckpt = {
        "epoch": 3,
        "global_step": 1234,
        "pytorch-lightning_version": "1.2.9",
        "state_dict": state,
        "callbacks": {"ModelCheckpoint": {"best_model_score": torch.tensor(0.5), "best_model_path": "/runs/x/best.ckpt",
                                          "monitor": "val_ssim_fid100_f1", "save_last": True, "dirpath": None}},
        "optimizer_states": [{"state": {0: {"step": 5, "exp_avg": torch.zeros(3)}},
                              "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), "params": [0]}]}],
        "lr_schedulers": [],
        "hyper_parameters": argparse.Namespace(lr=0.001, name="lama"),
    }
    torch.save(ckpt, os.path.join(OUT, "lightning.ckpt"))
    meta = {"epoch": "3", "global_step": "1234", "pytorch-lightning_version": "1.2.9",
            "callbacks.ModelCheckpoint.best_model_path": "/runs/x/best.ckpt",
            "callbacks.ModelCheckpoint.save_last": "True", "callbacks.ModelCheckpoint.dirpath": "None",
            "optimizer_states.0.state.0.step": "5", "optimizer_states.0.param_groups.0.lr": repr(0.001),
            "optimizer_states.0.param_groups.0.betas.1": repr(0.999)}
    save_st(state, os.path.join(OUT, "lightning_expected.safetensors"), metadata=meta)
    for f in sorted(os.listdir(OUT)):
        print(f"{os.path.getsize(os.path.join(OUT, f)):8d}  {f}")


if __name__ == "__main__":
    main()
