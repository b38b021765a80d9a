"""Times the OFFICIAL LaMa training iteration (tests/ref/harness.py Step: the official
FFCResNetGenerator, NLayerDiscriminator, NonSaturatingWithR1, feature matching and ResNetPL
over the ade20k ResNet50-dilated with random weights, Adam, clipping) on Debian's
python3-torch, with the same inputs as `lamac bench step` (random image, one box mask per
sample), so the two figures can be taken side by side (bench/step_vs_official.sh).

    LAMA_REF=/path/to/lama /usr/bin/python3 tests/ref/bench_official_step.py \
        [--iters 3] [--warmup 1] [--threads 2] [--size 256] [--batch-size 1] [--blocks 9]
        [--device cpu|cuda] [--trace FILE]   (one more iteration recorded by libtorch's legacy profiler into a
                          Chrome trace, the same recorder as `lamac bench step --trace`;
                          bench/trace_ops.py sums either by op)

Prints one line per iteration, the median, CPU seconds, peak RSS and the load average; never
passes or fails on time."""
import argparse, os, resource, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # tests/ref: harness.py, safetensors_io.py
import harness  # noqa: E402
harness.setup()  # $LAMA_REF checked and first on sys.path, import stubs installed
import torch  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=1)
    ap.add_argument("--blocks", type=int, default=9, help="9 lama-fourier, 18 big-lama")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--trace", default=None)
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:N] (the networks, the batch and the step)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    t0 = time.time()
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    step = harness.Step(n_blocks=a.blocks, device=dev)
    bs, s = a.batch_size, a.size
    img = torch.rand(bs, 3, s, s)
    mask = torch.zeros(bs, 1, s, s)
    for b in range(bs):  # the same boxes as lamac bench step
        y0, x0 = s // 8 + b % 4 * s // 16, s // 4
        mask[b, :, y0:y0 + s // 2, x0:x0 + s // 2 + b % 3 * s // 8 - s // 8] = 1
    img, mask = img.to(dev), mask.to(dev)
    with open("/proc/loadavg") as f:
        load = f.read().strip()
    print(f"official step: harness.Step(n_blocks={a.blocks}), batch {bs}x3x{s}x{s}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {dev}, "
          f"built in {time.time() - t0:.1f} s")
    if cuda:
        print(f"TF32: cuDNN convolutions {torch.backends.cudnn.allow_tf32}, "
              f"matmul {torch.backends.cuda.matmul.allow_tf32} (torch's defaults; the official code sets neither)")
        torch.cuda.reset_peak_memory_stats(dev)
    blas = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l})
    print("BLAS:", ", ".join(os.path.realpath(p) for p in blas) or "none mapped")
    tot, cpu = [], []
    for it in range(a.warmup + a.iters):
        if cuda:
            torch.cuda.synchronize(dev)
        c0, w0 = time.process_time(), time.perf_counter()
        step(img, mask)  # returns float(loss) twice: the official step reads both losses
        if cuda:
            torch.cuda.synchronize(dev)
        w1, c1 = time.perf_counter(), time.process_time()
        if it >= a.warmup:
            tot.append(w1 - w0)
            cpu.append(c1 - c0)
            print(f"  iteration {it - a.warmup + 1}: {w1 - w0:.3f} s (CPU {c1 - c0:.3f} s)", flush=True)
    med = sorted(tot)[len(tot) // 2] if len(tot) % 2 else sum(sorted(tot)[len(tot) // 2 - 1:len(tot) // 2 + 1]) / 2
    cmed = sorted(cpu)[len(cpu) // 2]
    print(f"seconds per iteration: median {med:.3f} (min {min(tot):.3f}, max {max(tot):.3f} over {a.iters}, "
          f"after {a.warmup} warm-up)")
    print(f"CPU seconds per iteration: median {cmed:.3f}")
    print(f"load average at start: {load}")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    if cuda:
        print(f"GPU memory: peak allocated {torch.cuda.max_memory_allocated(dev) / 1048576:.0f} MiB")
    print(f"samples/s: {bs / med:.3f}")
    if a.trace:
        with torch.autograd.profiler.profile() as prof:
            step(img, mask)
        prof.export_chrome_trace(a.trace)
        print("trace of one more iteration written to", a.trace)


if __name__ == "__main__":
    main()
