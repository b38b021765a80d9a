"""Sums Chrome traces of libtorch's profiler (`lamac bench step --trace A`,
tests/ref/bench_official_step.py --trace B) by op name: self time (an op's duration minus the
ops it called), calls, and with two traces the difference side by side.

    python3 bench/trace_ops.py A.json [B.json] [--top 40]"""
import json, sys
from collections import defaultdict


def load(path):
    with open(path) as f:
        d = json.load(f)
    ev = d["traceEvents"] if isinstance(d, dict) else d
    ev = [e for e in ev if e.get("ph") == "X" and "dur" in e]
    by_tid = defaultdict(list)
    for e in ev:
        by_tid[e.get("tid")].append(e)
    self_t, calls, total = defaultdict(float), defaultdict(int), 0.0
    for evs in by_tid.values():
        evs.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []  # [end, name, child time]
        def close(upto):
            while stack and stack[-1][0] <= upto:
                end, name, child, dur = stack.pop()
                self_t[name] += dur - child
                if stack:
                    stack[-1][2] += dur
        for e in evs:
            close(e["ts"])
            stack.append([e["ts"] + e["dur"], e["name"], 0.0, e["dur"]])
            calls[e["name"]] += 1
            if len(stack) == 1:
                total += e["dur"]
        close(float("inf"))
    return self_t, calls, total


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    top = int(sys.argv[sys.argv.index("--top") + 1]) if "--top" in sys.argv else 40
    if "--top" in sys.argv:
        args.remove(str(top))
    runs = [load(p) for p in args]
    names = set().union(*[r[0] for r in runs])
    key = lambda n: -max(r[0].get(n, 0) for r in runs)
    print("self ms (calls) per op" + "".join(f" | {p}" for p in args))
    for r, p in zip(runs, args):
        print(f"  top-level total {r[2] / 1e3:.0f} ms, self sum {sum(r[0].values()) / 1e3:.0f} ms: {p}")
    for n in sorted(names, key=key)[:top]:
        cols = "".join(f" {r[0].get(n, 0) / 1e3:9.1f} ({r[1].get(n, 0):5d})" for r in runs)
        print(f"{n[:48]:48s}{cols}")


if __name__ == "__main__":
    main()
