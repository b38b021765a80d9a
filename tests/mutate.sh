#!/usr/bin/env bash
# tests/mutate.sh — mutation check of the parity tests: the proof that they still catch real bugs.
#
# Each mutation below is a realistic one-line bug in a product source file (a loss weight off
# by 0.1 %, a BatchNorm constant, Adam's bias correction, an SSIM sigma, ...). The script copies
# the repository (tracked + untracked-not-ignored files, fixtures included) into a scratch
# directory, builds it once in Release (later runs reuse that build: rebuilds are incremental),
# runs the suites once unmutated (the baseline), then for each mutation: applies it, rebuilds,
# runs the suites that should notice it, restores the file. Results:
#   CAUGHT  a listed suite failed (or timed out / crashed)  — good
#   MISSED  every listed suite passed                        — a test gap
#   BROKEN  the mutated tree did not build, or the search string is not found exactly once
#           (BROKEN-PATTERN) — a defect of this script's table, not of the product
# Exit status 0 only if every selected mutation is CAUGHT.
#
# Run by hand, not in CI (a full run takes ~10 minutes on 2 cores after the first build,
# which compiles shim/lt.cpp against libtorch):
#   tests/mutate.sh                       # all mutations
#   tests/mutate.sh --list                # the table of mutations
#   tests/mutate.sh --only adam_bc2,ssim_sigma --no-baseline
#   tests/mutate.sh --dir /scratch/m --timeout 600 --clean
# The working tree is never modified: mutations are applied to the scratch copy only
# (<dir>/main), and restored on exit/Ctrl-C.
set -u -o pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${TMPDIR:-/tmp}/lamac-mutate
only=""
do_list=0
baseline=1
clean=0
suite_timeout=300
jobs=$(nproc 2>/dev/null || echo 2)

usage() {
    cat <<EOF
usage: tests/mutate.sh [options]
  --list             print the mutations (id, file:line, suites, description) and exit
  --only ID[,ID...]  run only these mutations
  --dir D            scratch directory (default \${TMPDIR:-/tmp}/lamac-mutate); the copy is D/main
  --timeout S        per-suite timeout in seconds (default $suite_timeout)
  --no-baseline      skip the unmutated run of the suites
  --keep             keep the scratch directory (the default: its build is reused next time)
  --clean            delete the scratch directory at the end
  --help             this text
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
    --list) do_list=1 ;;
    --only) only=${2:?--only needs IDs}; shift ;;
    --only=*) only=${1#--only=} ;;
    --dir) dir=${2:?--dir needs a directory}; shift ;;
    --dir=*) dir=${1#--dir=} ;;
    --timeout) suite_timeout=${2:?--timeout needs seconds}; shift ;;
    --timeout=*) suite_timeout=${1#--timeout=} ;;
    --no-baseline) baseline=0 ;;
    --keep) clean=0 ;;
    --clean) clean=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "mutate.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

# ---- the mutations ---------------------------------------------------------------------------
# mut ID FILE SUITES DESCRIPTION SEARCH REPLACEMENT
# SEARCH must occur exactly once in FILE; the replacement is a single-line change.
M_ID=() M_FILE=() M_SUITES=() M_DESC=() M_FROM=() M_TO=()
mut() { M_ID+=("$1") M_FILE+=("$2") M_SUITES+=("$3") M_DESC+=("$4") M_FROM+=("$5") M_TO+=("$6"); }

mut adv_weight losses/adversarial.c "step" \
    "generator adversarial loss weight x1.001" \
    'return lt_mul_scalar(lt_mean(fake_loss), o->weight);' \
    'return lt_mul_scalar(lt_mean(fake_loss), o->weight * 1.001);'
mut fm_weight train/step.c "step" \
    "feature-matching loss weight x1.001 where the step applies it" \
    'o->fm.pass_mask ? mask : NULL), o->fm.weight);' \
    'o->fm.pass_mask ? mask : NULL), o->fm.weight * 1.001);'
mut r1_gamma losses/adversarial.c "step" \
    "R1 penalty scaled by gamma/2 instead of gp_coef" \
    'gp = lt_mul_scalar(gp, o->gp_coef);' \
    'gp = lt_mul_scalar(gp, 0.5 * o->gp_coef);'
mut l1_mask_inverted losses/masked.c "step" \
    "masked L1 uses the inverted mask (known <-> missing weights)" \
    'lt_tensor *per_pixel = lt_abs(lt_sub(pred, target)); // (N, C, H, W)' \
    'lt_tensor *per_pixel = lt_abs(lt_sub(pred, target)); mask = lt_rsub_scalar(mask, 1.0);'
mut bn_eps model/layers.c "generator" \
    "BatchNorm eps 1e-5 -> 1e-3 (the TF default)" \
    '.eps = 1e-5}' \
    '.eps = 1e-3}'
mut bn_momentum model/layers.c "layers generator" \
    "BatchNorm momentum 0.1 -> 0.01" \
    '.momentum = 0.1,' \
    '.momentum = 0.01,'
mut ffc_split model/ffc.c "generator" \
    "FFC global output channels from ratio_gin instead of ratio_gout" \
    'f->out_cg = (int)(g.cout * kw->ratio_gout);' \
    'f->out_cg = (int)(g.cout * kw->ratio_gin);'
mut fft_norm model/fourier.c "generator" \
    "FourierUnit inverse FFT always norm=backward (forward stays ortho)" \
    'lt_tensor *y = lt_irfftn(z, hw, dims, 2, u->norm);' \
    'lt_tensor *y = lt_irfftn(z, hw, dims, 2, LT_FFT_BACKWARD);'
mut adam_beta2 train/optim.c "step" \
    "Adam second moment updated with (1 - beta1) instead of (1 - beta2)" \
    'grad, grad, 1 - o->beta2)) return -1;' \
    'grad, grad, 1 - o->beta1)) return -1;'
mut adam_bc2 train/optim.c "step" \
    "Adam bias correction: divides by bc2 instead of sqrt(bc2)" \
    'bc2_sqrt = sqrt(bc2);' \
    'bc2_sqrt = bc2;'
mut adam_eps train/optim.c "step" \
    "Adam eps added before the bias correction (eps-hat variant)" \
    'lt_tensor *denom = lt_add_scalar_(lt_div(lt_sqrt(sq), lt_scalar(bc2_sqrt, LT_F64, LT_CPU)), o->eps);' \
    'lt_tensor *denom = lt_div(lt_add_scalar_(lt_sqrt(sq), o->eps), lt_scalar(bc2_sqrt, LT_F64, LT_CPU));'
mut clip_norm train/optim.c "step" \
    "clip_grad_norm total = sum of per-tensor norms, not their 2-norm" \
    'lt_tensor *total = lt_norm(lt_stack(norms, n, 0), 2.0);' \
    'lt_tensor *total = lt_sum(lt_stack(norms, n, 0));'
mut lpips_norm eval/lpips.c "eval" \
    "LPIPS feature normalization by the squared channel norm (sqrt dropped)" \
    'lt_tensor *n = lt_sqrt(lt_sum_dims(lt_mul(f, f), d1, 1, 1)); // (N, 1, h, w)' \
    'lt_tensor *n = lt_sum_dims(lt_mul(f, f), d1, 1, 1); // (N, 1, h, w)'
mut ssim_sigma eval/metrics.c "eval" \
    "SSIM Gaussian window sigma 1.5 -> 1.6" \
    'g[i] = (float)exp(-d * d / (2.0 * 1.5 * 1.5));' \
    'g[i] = (float)exp(-d * d / (2.0 * 1.6 * 1.6));'
mut bin_edge eval/bins.c "eval" \
    "mask-area bins: offline rule counts edges with < (area on an edge falls a bin low)" \
    'if (rule == LM_BINS_OFFLINE ? e <= a : e < a) k++;' \
    'if (rule == LM_BINS_OFFLINE ? e < a : e < a) k++;'
mut resnet_pl_std losses/perceptual.c "perceptual" \
    "perceptual-loss input normalization (ResNetPL, VGG PL): ImageNet std G/B swapped" \
    '!(pc->std = chan_const(0.229, 0.224, 0.225, dt, dev))' \
    '!(pc->std = chan_const(0.229, 0.225, 0.224, dt, dev))'
mut graph_fu_norm model/fourier.c "graph" \
    "exported graph: the FourierUnit's inverse FFT always in ortho norm" \
    '.in = {f, x}, .norm = u->norm, .what = "FourierUnit"};' \
    '.in = {f, x}, .norm = LT_FFT_ORTHO, .what = "FourierUnit"};'
mut graph_bn_l model/ffc.c "graph" \
    "exported graph: FFC_BN_ACT's local BatchNorm left out" \
    'l = lm_bn_emit(&b->bn_l, g, l, "FFC_BN_ACT.bn_l");' \
    '(void)0;'
mut onnx_dft_sin model/dft.c "onnx export_runtimes" \
    "ONNX export: the DFT's sin matrix with the wrong sign" \
    '*s = sin(t);' \
    '*s = -sin(t);'
mut onnx_irfft_weight model/dft.c "onnx export_runtimes" \
    "ONNX export: the inverse real DFT counts the non-edge bins once, not twice" \
    'double wk = edge ? 1.0 : 2.0;' \
    'double wk = edge ? 1.0 : 1.0;'
mut ts_irfft_norm model/export_torchscript.c "torchscript export_runtimes" \
    "TorchScript export: the inverse FFT always in ortho norm" \
    'n->in[1], n->in[1], norm_str(n->norm));' \
    'n->in[1], n->in[1], "ortho");'
mut refine_erode eval/refine.c "refine" \
    "refiner: the loss mask eroded by a 13x13 ellipse instead of the official 15x15" \
    '#define ERODE_SIZE 15 /* cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15)) */' \
    '#define ERODE_SIZE 13 /* cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15)) */'
mut refine_adam_b2 eval/refine.c "refine" \
    "refiner: Adam's beta2 0.99 instead of torch's default 0.999" \
    '#define ADAM_B2 0.999' \
    '#define ADAM_B2 0.99'

mut curve_lr run/step_setup.c "curve" \
    "generator learning rate x1.1 where a run's config fills the step (the step suite builds its options itself)" \
    'if (!rc) rc = lm_cfg_fill(&s->sopts, LM_OPTS_STEP, c);' \
    'if (!rc && (rc = lm_cfg_fill(&s->sopts, LM_OPTS_STEP, c)) == 0) s->sopts.opt_g.lr *= 1.1;'
mut deferred_flag train/step.c "step train" \
    "deferred checks: a non-finite term is never recorded in the device-side flags" \
    'lt_rsub_scalar(lt_to_dtype(lt_isfinite(vals), LT_F64), 1.0)' \
    'lt_mul_scalar(lt_to_dtype(lt_isfinite(vals), LT_F64), 0.0)'
mut deferred_end_check train/loop.c "train" \
    "the end of a run writes its last checkpoint without reading the deferred non-finite flags" \
    'int rc = read_losses(r, NULL); /* nothing non-finite reaches the last checkpoint */' \
    'int rc = 0;'
mut adam_host_step train/optim.c "step train" \
    "Adam's host copy of the step counters is not refreshed after a checkpoint load" \
    'void lm_optim_state_loaded(lm_optim *o) { o->steps_stale = 1; }' \
    'void lm_optim_state_loaded(lm_optim *o) { (void)o; }'
mut channels_last_params run/step_setup.c "run" \
    "trainer.channels_last leaves the generator's parameters contiguous" \
    'int rc = params_channels_last(&s->gp, "generator");' \
    'int rc = 0;'
mut curve_stale_pred train/step.c "curve" \
    "discriminator step on the generator's prediction from before its update (G not re-run)" \
    'rc = generator_step(s, img, mask, L, s->opts.reuse_pred ? &pred : NULL);' \
    'rc = generator_step(s, img, mask, L, &pred);'
mut prefetch_hands_next train/prefetch.c "prefetch" \
    "the prefetcher hands step k the batch it has just read ahead (k+1) instead of batch k" \
    'b->img = p->cur.img;' \
    'b->img = next && p->on && !p->ahead.rc ? p->ahead.img : p->cur.img;'
mut prefetch_drops_error train/prefetch.c "prefetch" \
    "a failed read ahead is taken for a give-up: the batch is read again and the loader's message is lost" \
    'p->ahead.rc = lm_err_last_code() < 0 ? lm_err_last_code() : LM_EFAIL;' \
    'p->ahead.rc = 1;'
mut prefetch_epoch_end train/loop.c "prefetch" \
    "the loop reads ahead across an epoch's end" \
    'if (r->meta.batch + 1 >= r->nb || (o->max_steps >= 0 && r->meta.step + 1 >= o->max_steps)) return NULL;' \
    'if (o->max_steps >= 0 && r->meta.step + 1 >= o->max_steps) return NULL;'
mut prefetch_deaf_wait train/loop.c "prefetch" \
    "the wait for the loader ignores signals (a stalled read hangs the run; the suite times out)" \
    'r->world > 1 ? NULL : signalled, NULL' \
    'r->world > 0 ? NULL : signalled, NULL'
n_mut=${#M_ID[@]}

# line of SEARCH in FILE (of the given tree), or "?"
line_of() {
    local n
    n=$(grep -nF -m1 -- "$2" "$1" 2>/dev/null | cut -d: -f1)
    echo "${n:-?}"
}
# number of (non-overlapping) occurrences of SEARCH in FILE
count_of() {
    local content rest
    content=$(cat -- "$1"; printf x) || { echo 0; return; }
    content=${content%x}
    rest=${content//"$2"/}
    echo $(((${#content} - ${#rest}) / ${#2}))
}

# ---- selection ---------------------------------------------------------------------------------
sel=()
if [ -n "$only" ]; then
    IFS=, read -r -a want <<<"$only"
    for w in "${want[@]}"; do
        found=0
        for ((i = 0; i < n_mut; i++)); do [ "${M_ID[i]}" = "$w" ] && { sel+=("$i"); found=1; }; done
        [ $found = 1 ] || { echo "mutate.sh: no mutation '$w' (see --list)" >&2; exit 2; }
    done
else
    for ((i = 0; i < n_mut; i++)); do sel+=("$i"); done
fi

if [ $do_list = 1 ]; then
    printf '%-17s %-26s %-17s %s\n' ID FILE:LINE SUITES DESCRIPTION
    for i in "${sel[@]}"; do
        f=${M_FILE[i]}
        printf '%-17s %-26s %-17s %s\n' "${M_ID[i]}" "$f:$(line_of "$repo/$f" "${M_FROM[i]}")" \
            "${M_SUITES[i]}" "${M_DESC[i]}"
    done
    exit 0
fi

t_start=$(date +%s)
mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || exit 2
scratch=$dir/main
mkdir -p "$scratch" "$dir/logs" || exit 2

# ---- restore on exit / Ctrl-C --------------------------------------------------------------------
cur_file=""   # relative path of the file currently mutated in the scratch copy
cur_orig=""   # its saved original
restore() {
    if [ -n "$cur_file" ] && [ -f "$cur_orig" ]; then
        cat -- "$cur_orig" >"$scratch/$cur_file" # new mtime: the next build recompiles it
        rm -f -- "$cur_orig"
    fi
    cur_file="" cur_orig=""
}
# Builds and suites run as background jobs in their own process group (set -m) that the
# script waits for: a Ctrl-C interrupts the wait at once, kills the job's whole group
# (make, lamac_tests and the lamac processes it starts) and restores the file.
set -m
child=""
job() { # run "$@" as a job and wait for it; returns its status
    "$@" &
    child=$!
    wait "$child"
    local rc=$?
    child=""
    return $rc
}
on_signal() {
    trap - INT TERM
    [ -n "$child" ] && kill -TERM -- -"$child" 2>/dev/null
    restore
    echo >&2
    echo "mutate.sh: interrupted; the scratch copy is restored" >&2
    exit 130
}
trap 'restore' EXIT
trap on_signal INT TERM

# ---- copy the repository into the scratch tree ------------------------------------------------------
# Files are copied only when their content differs (then with a new mtime), so an unchanged
# file keeps the mtime its object was built from and the rebuild stays incremental.
echo "== syncing $repo -> $scratch"
stage=$dir/stage
rm -rf -- "$stage" && mkdir -p "$stage" || exit 2
(cd "$repo" && git ls-files -co --exclude-standard -z | while IFS= read -r -d '' p; do
    [ -e "$p" ] || [ -L "$p" ] && printf '%s\0' "$p"
done) >"$dir/files.lst" || { echo "mutate.sh: git ls-files failed in $repo" >&2; exit 2; }
tar -C "$repo" --null -T "$dir/files.lst" -cf - | tar -C "$stage" -xf - ||
    { echo "mutate.sh: copying the repository failed" >&2; exit 2; }
changed=0
while IFS= read -r -d '' p; do
    if [ -L "$stage/$p" ] || ! cmp -s -- "$stage/$p" "$scratch/$p"; then
        mkdir -p -- "$(dirname -- "$scratch/$p")"
        rm -f -- "$scratch/$p"
        cp -P -- "$stage/$p" "$scratch/$p" && changed=$((changed + 1))
    fi
done <"$dir/files.lst"
# files gone from the repository (a removed tests/check_*.c would still be globbed by CMake)
removed=0
while IFS= read -r -d '' p; do
    p=${p#./}
    [ -e "$stage/$p" ] || [ -L "$stage/$p" ] || { rm -f -- "$scratch/$p"; removed=$((removed + 1)); }
done < <(cd "$scratch" && find . -path ./build -prune -o \( -type f -o -type l \) -print0)
rm -rf -- "$stage"
echo "   $changed file(s) updated, $removed removed"

# ---- build -------------------------------------------------------------------------------------------
build() { # $1: log file
    job build_ "$1"
}
build_() {
    (cd "$scratch" &&
        { [ -f build/CMakeCache.txt ] || cmake -S . -B build -DCMAKE_BUILD_TYPE=Release; } &&
        cmake --build build -j"$jobs" --target lamac lamac_tests) >"$1" 2>&1
}
echo "== building $scratch/build (Release, incremental)"
if ! build "$dir/logs/build-initial.log"; then
    echo "mutate.sh: the unmutated scratch tree does not build; see $dir/logs/build-initial.log" >&2
    tail -20 "$dir/logs/build-initial.log" >&2
    exit 2
fi

# run SUITE LOG: 0 pass, 1 fail, 124 timeout, other: crash
run_suite() {
    job run_suite_ "$@"
}
run_suite_() { # runs as the job itself: timeout becomes the job (and its own process group)
    cd "$scratch" || return 2
    OMP_NUM_THREADS=2 LAMAC_BIN="$scratch/build/lamac" \
        exec timeout --kill-after=10 "$suite_timeout" build/lamac_tests "$1" >"$2" 2>&1
}
first_failure() { # LOG RC
    local l
    l=$(grep -m1 -E ':[FE]:' "$1")
    if [ -n "$l" ]; then echo "${l#"$scratch"/}"
    elif [ "$2" = 124 ] || [ "$2" = 137 ]; then echo "(timed out after ${suite_timeout}s)"
    else echo "(exit status $2, no :F:/:E: line: crashed? see $1)"; fi
}

# ---- baseline ---------------------------------------------------------------------------------------
all_suites=$(for i in "${sel[@]}"; do echo ${M_SUITES[i]}; done | tr ' ' '\n' | awk 'NF && !s[$0]++' | tr '\n' ' ')
if [ $baseline = 1 ]; then
    echo "== baseline (unmutated): $all_suites"
    for s in $all_suites; do
        t0=$(date +%s)
        run_suite "$s" "$dir/logs/baseline.$s.log"
        rc=$?
        printf '   %-12s %s (%ds)\n' "$s" "$([ $rc = 0 ] && echo pass || echo FAIL)" $(($(date +%s) - t0))
        if [ $rc != 0 ]; then
            echo "mutate.sh: suite '$s' fails without any mutation — mutation results would be meaningless." >&2
            echo "   first failure: $(first_failure "$dir/logs/baseline.$s.log" $rc)" >&2
            echo "   log: $dir/logs/baseline.$s.log  (fix the tree, or --no-baseline to run anyway)" >&2
            exit 2
        fi
    done
fi

# ---- mutations -----------------------------------------------------------------------------------------
R_RES=() R_FIRST=() R_SECS=() R_LINE=()
for i in "${sel[@]}"; do
    id=${M_ID[i]} f=${M_FILE[i]} from=${M_FROM[i]} to=${M_TO[i]}
    t0=$(date +%s)
    line=$(line_of "$scratch/$f" "$from")
    R_LINE[i]=$line
    printf '== %-17s %s:%s  [%s]\n' "$id" "$f" "$line" "${M_SUITES[i]}"
    n=$(count_of "$scratch/$f" "$from")
    if [ "$n" != 1 ]; then
        R_RES[i]=BROKEN-PATTERN R_FIRST[i]="search string occurs $n times in $f" R_SECS[i]=0
        echo "   BROKEN-PATTERN (occurs $n times)"
        continue
    fi
    cur_orig=$dir/orig.$id
    cp -p -- "$scratch/$f" "$cur_orig" || exit 2
    cur_file=$f
    content=$(cat -- "$cur_orig"; printf x)
    content=${content%x}
    printf '%s' "${content/"$from"/"$to"}" >"$scratch/$f"
    if ! build "$dir/logs/$id.build.log"; then
        R_RES[i]=BROKEN R_FIRST[i]="build failed: $(grep -m1 -E 'error' "$dir/logs/$id.build.log")"
    else
        R_RES[i]=MISSED R_FIRST[i]=""
        for s in ${M_SUITES[i]}; do
            run_suite "$s" "$dir/logs/$id.$s.log"
            rc=$?
            if [ $rc != 0 ]; then
                R_RES[i]=CAUGHT R_FIRST[i]="[$s] $(first_failure "$dir/logs/$id.$s.log" $rc)"
                break
            fi
        done
    fi
    restore
    R_SECS[i]=$(($(date +%s) - t0))
    echo "   ${R_RES[i]} (${R_SECS[i]}s) ${R_FIRST[i]}"
done

# ---- table -------------------------------------------------------------------------------------------
echo
echo "== mutation results ($repo, scratch $scratch)"
printf '%-17s %-24s %-15s %5s  %s\n' ID FILE:LINE RESULT SECS DESCRIPTION
ok=1
for i in "${sel[@]}"; do
    printf '%-17s %-24s %-15s %5s  %s\n' "${M_ID[i]}" "${M_FILE[i]}:${R_LINE[i]}" "${R_RES[i]}" "${R_SECS[i]}" "${M_DESC[i]}"
    [ -n "${R_FIRST[i]}" ] && printf '%-17s   first failing check: %s\n' "" "$(printf '%s' "${R_FIRST[i]}" | cut -c1-160)"
    [ "${R_RES[i]}" = CAUGHT ] || ok=0
done
caught=0
for i in "${sel[@]}"; do [ "${R_RES[i]}" = CAUGHT ] && caught=$((caught + 1)); done
echo "== $caught/${#sel[@]} caught; total $(($(date +%s) - t_start))s; logs in $dir/logs"
if [ $clean = 1 ]; then
    trap - EXIT
    rm -rf -- "$dir"
    echo "== removed $dir"
fi
[ $ok = 1 ]
