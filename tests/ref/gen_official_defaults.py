#!/usr/bin/env python3
"""gen_official_defaults.py — the official code's default for every config key that lamac's
schema mirrors from an official constructor's keyword arguments, read from the official
sources with `ast` (nothing of them is imported or run) and from torch.optim's signatures.

Writes tests/fixtures/config/official_defaults.txt: one line per key, `key<TAB>value<TAB>source`, value
as YAML. check_config.c's test_defaults_are_official fills each key's options set once from
the schema defaults and once with the key set to this value, and requires the same field.

Rows come from where the official trainer hands a config group to a constructor as
**kwargs (make_generator, make_discriminator, make_discrim_loss, ResNetPL, make_optimizer ->
torch.optim): an absent key then takes the constructor's default. The mask generators' keys
(data.train.mask_gen_kwargs.*) are listed too: their defaults live in masks/, not in the
schema, and the config suite compares the mask options filled with each value against
lm_mask_cfg_default. Keys the official code reads
without a default (losses.l1.weight_known, ratio_gin, ...) have none to mirror and are not
listed; neither are the Lightning Trainer keys (lamac counts in batches where Lightning takes
fractions). One row is a trainer rule, not a signature: an absent losses.resnet_pl section
means weight 0 (trainers/base.py `losses.get("resnet_pl", {"weight": 0})`), checked in the
source text.

usage: LAMA_REF=/path/to/lama python3 tests/ref/gen_official_defaults.py [OUT]
"""
import ast
import inspect
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.environ.get("LAMA_REF")
if not REF or not os.path.isdir(os.path.join(REF, "saicinpainting")):
    sys.exit("gen_official_defaults.py: set LAMA_REF to a checkout of advimman/lama")
MOD = os.path.join(REF, "saicinpainting", "training")


def signature(relpath, cls, func="__init__"):
    """{arg: default} of cls.func (cls None: a module-level function) in an official file."""
    tree = ast.parse(open(os.path.join(MOD, relpath)).read())
    for node in ast.walk(tree):
        if cls is None and isinstance(node, ast.FunctionDef) and node.name == func:
            fn = node
            break
        if cls is not None and isinstance(node, ast.ClassDef) and node.name == cls:
            fn = next(b for b in node.body if isinstance(b, ast.FunctionDef) and b.name == func)
            break
    else:
        sys.exit(f"gen_official_defaults.py: {cls}.{func} not found in {relpath}")
    args = fn.args.args
    out = {}
    for a, d in zip(args[len(args) - len(fn.args.defaults):], fn.args.defaults):
        try:
            out[a.arg] = ast.literal_eval(d)
        except ValueError:
            if all(isinstance(n, (ast.Constant, ast.BinOp, ast.UnaryOp, ast.operator, ast.unaryop))
                   for n in ast.walk(d)):  # arithmetic of numbers (irregular_proba=1/3)
                out[a.arg] = eval(compile(ast.Expression(d), relpath, "eval"), {"__builtins__": {}})
            # else a class or call (norm_layer=nn.BatchNorm2d): not a config value
    return out


def yaml(v):
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(yaml(x) for x in v) + "]"
    return repr(v).strip("'") if isinstance(v, str) else repr(v)


rows = []


def add(key, value, source):
    rows.append((key, yaml(value), source))


ffc = signature("modules/ffc.py", "FFCResNetGenerator")
for k in ("ngf", "n_downsampling", "n_blocks", "add_out_act", "max_features", "out_ffc"):
    add("generator." + k, ffc[k], "modules/ffc.py FFCResNetGenerator")
gate = signature("modules/ffc.py", "FFC")
unit = signature("modules/ffc.py", "FourierUnit")
for group in ("init_conv_kwargs", "downsample_conv_kwargs", "resnet_conv_kwargs"):
    add(f"generator.{group}.enable_lfu", gate["enable_lfu"], "modules/ffc.py FFC")
    add(f"generator.{group}.gated", gate["gated"], "modules/ffc.py FFC")
    for k in ("spectral_pos_encoding", "use_se", "fft_norm"):
        add(f"generator.{group}.{k}", unit[k], "modules/ffc.py FourierUnit")
glob = signature("modules/pix2pixhd.py", "GlobalGenerator")
add("generator.conv_kind", glob["conv_kind"], "modules/pix2pixhd.py GlobalGenerator")
disc = signature("modules/pix2pixhd.py", "NLayerDiscriminator")
for k in ("ndf", "n_layers"):
    add("discriminator." + k, disc[k], "modules/pix2pixhd.py NLayerDiscriminator")
adv = signature("losses/adversarial.py", "NonSaturatingWithR1")
for k in ("weight", "gp_coef", "mask_as_fake_target", "allow_scale_mask", "mask_scale_mode",
          "extra_mask_weight_for_gen", "use_unmasked_for_gen", "use_unmasked_for_discr"):
    add("losses.adversarial." + k, adv[k], "losses/adversarial.py NonSaturatingWithR1")
pl = signature("losses/perceptual.py", "ResNetPL")
for k in ("weights_path", "arch_encoder", "segmentation"):
    add("losses.resnet_pl." + k, pl[k], "losses/perceptual.py ResNetPL")
base = open(os.path.join(MOD, "trainers", "base.py")).read()
if 'losses.get("resnet_pl", {"weight": 0})' not in base:
    sys.exit("gen_official_defaults.py: trainers/base.py no longer defaults resnet_pl to weight 0")
add("losses.resnet_pl.weight", 0, "trainers/base.py losses.get(\"resnet_pl\", {\"weight\": 0})")

# the mask generators (data/masks.py): MixedMaskGenerator(**mask_gen_kwargs) and the
# generators it builds from its *_kwargs; checked against masks/ (lm_mask_cfg_default)
MK = "data.train.mask_gen_kwargs."
mixed = signature("data/masks.py", "MixedMaskGenerator")
for k in ("irregular_proba", "box_proba", "segm_proba", "squares_proba", "superres_proba",
          "outpainting_proba", "invert_proba"):
    add(MK + k, mixed[k], "data/masks.py MixedMaskGenerator")
irr = signature("data/masks.py", "RandomIrregularMaskGenerator")
for group in ("irregular_kwargs", "squares_kwargs"):
    for k in ("max_angle", "max_len", "max_width", "min_times", "max_times"):
        add(f"{MK}{group}.{k}", irr[k], "data/masks.py RandomIrregularMaskGenerator")
box = signature("data/masks.py", "RandomRectangleMaskGenerator")
for k in ("margin", "bbox_min_size", "bbox_max_size", "min_times", "max_times"):
    add(f"{MK}box_kwargs.{k}", box[k], "data/masks.py RandomRectangleMaskGenerator")
sup = signature("data/masks.py", None, "make_random_superres_mask")
for k in ("min_step", "max_step", "min_width", "max_width"):
    add(f"{MK}superres_kwargs.{k}", sup[k], "data/masks.py make_random_superres_mask")
out = signature("data/masks.py", "OutpaintingMaskGenerator")
for k in ("min_padding_percent", "max_padding_percent", "left_padding_prob", "top_padding_prob",
          "right_padding_prob", "bottom_padding_prob", "is_fixed_randomness"):
    add(f"{MK}outpainting_kwargs.{k}", out[k], "data/masks.py OutpaintingMaskGenerator")

kind = signature("trainers/base.py", None, "make_optimizer")["kind"]
import torch  # noqa: E402  (torch.optim's own signatures)

optim = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
for net in ("generator", "discriminator"):
    add(f"optimizers.{net}.kind", kind, "trainers/base.py make_optimizer")
    sig = inspect.signature(optim[kind]).parameters
    for k in ("lr", "betas", "eps", "weight_decay", "amsgrad"):
        add(f"optimizers.{net}.{k}", sig[k].default, f"torch.optim.{optim[kind].__name__} (torch {torch.__version__})")

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "fixtures", "config", "official_defaults.txt")
with open(out, "w") as f:
    f.write("# written by tests/ref/gen_official_defaults.py from the official sources; key\tvalue\tsource\n")
    for r in rows:
        f.write("\t".join(r) + "\n")
print(f"{out}: {len(rows)} keys")
