"""Per-call cost of small tensor ops against the numpy call they wrap.

The Torch7 layer should add little to numpy: ``x.add(y)`` on 4x4 FloatTensors against
``np.add(a, b, out=a)`` (goal: within 2 us per call), plus a few other small in-place ops.

Each case runs its luatorch_py and numpy versions in interleaved repeats (so drifting machine load hits both
alike) and reports the median per-call time of each and the difference.

    .venv/bin/python benchmarks/bench_tensor.py [--repeats 31] [--number 20000]
"""
import argparse
import os
import statistics
import sys
import timeit

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import luatorch_py as torch  # noqa: E402


def cases():
    rng = np.random.default_rng(0)
    # values stay finite and normal over millions of calls (no inf, no denormals to slow either side down):
    # y is ones for the multiplications, x.mul(2) overflows to inf quickly on both sides alike
    a4, b4 = rng.random((4, 4), dtype=np.float32), np.ones((4, 4), np.float32)
    x4, y4 = torch.FloatTensor(a4), torch.FloatTensor(b4)
    na, nb = a4.copy(), b4.copy()

    m1, m2, m3 = (rng.random((64, 64), dtype=np.float32) for _ in range(3))
    tm, ta, tb = torch.FloatTensor(m1), torch.FloatTensor(m2), torch.FloatTensor(m3)
    nm, na64, nb64 = m1.copy(), m2.copy(), m3.copy()
    prod = np.empty_like(nm)

    tmp4 = np.empty_like(na)

    def np_axpy():        # x += 0.5 * y with a kept temporary
        np.multiply(nb, 0.5, out=tmp4)
        np.add(na, tmp4, out=na)

    def np_addmm():       # the hand-written numpy of M = 1 * M + 1 * A @ B without allocation
        np.matmul(na64, nb64, out=prod)
        np.add(nm, prod, out=nm)

    return [
        # name, luatorch_py callable, numpy callable
        ('x.add(y)          4x4 float', lambda: x4.add(y4), lambda: np.add(na, nb, out=na)),
        ('x.mul(2)          4x4 float', lambda: x4.mul(2), lambda: np.multiply(na, 2, out=na)),
        ('x.cmul(y)         4x4 float', lambda: x4.cmul(y4), lambda: np.multiply(na, nb, out=na)),
        ('x.add(0.5, y)     4x4 float', lambda: x4.add(0.5, y4), np_axpy),
        ('x.fill(0)         4x4 float', lambda: x4.fill(0), lambda: na.fill(0)),
        ('m.addmm(a, b)   64x64 float', lambda: tm.addmm(ta, tb), np_addmm),
        ('torch.add(x, y)   4x4 float', lambda: torch.add(x4, y4), lambda: np.add(na, nb)),
        ('x + y             4x4 float', lambda: x4 + y4, lambda: na + nb),
    ]


def per_call_us(fn, number):
    return timeit.timeit(fn, number=number) / number * 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--repeats', type=int, default=31)
    ap.add_argument('--number', type=int, default=20000, help='calls per timed run')
    args = ap.parse_args()

    print(f"numpy {np.__version__}, python {sys.version.split()[0]}; median of {args.repeats} interleaved runs "
          f"of {args.number} calls")
    print(f"{'op':30s} {'luatorch_py':>12s} {'numpy':>10s} {'diff':>10s}")
    results = {}
    np.seterr(over='ignore', under='ignore', invalid='ignore')
    for name, ours, theirs in cases():
        number = args.number if 'addmm' not in name else max(args.number // 20, 100)
        ours(), theirs()     # warm up (allocations, scratch buffers)
        t_ours, t_np = [], []
        for _ in range(args.repeats):
            t_ours.append(per_call_us(ours, number))
            t_np.append(per_call_us(theirs, number))
        mo, mn = statistics.median(t_ours), statistics.median(t_np)
        print(f"{name:30s} {mo:9.3f} us {mn:7.3f} us {mo - mn:+7.3f} us")
        results[name] = (mo, mn)

    mo, mn = results['x.add(y)          4x4 float']
    verdict = 'within' if mo - mn <= 2.0 else 'OVER'
    print(f"\nx.add(y) costs {mo - mn:+.3f} us per call over np.add(a, b, out=a): {verdict} the 2 us goal")


if __name__ == '__main__':
    main()
