"""Training throughput of mlplab, PyTorch (CPU) and scikit-learn, measured side by side.

    .venv/bin/python bench/throughput.py             # the full run (about 15 minutes on 2 cores)
    .venv/bin/python bench/throughput.py --quick     # a tiny smoke run

Every framework trains the same network (ReLU hidden layers, softmax cross-entropy, Adam with
eta = 1e-3, no weight decay) on the same Fashion-MNIST-shaped data: the real training set
(60,000 x 784, pixels scaled to [0, 1]) when it is installed, otherwise seeded synthetic data
of that shape. Per configuration, each framework first trains one warm-up epoch; then the timed
epochs are interleaved (mlplab, PyTorch, scikit-learn, mlplab, ...) so that the machine's drift
from minute to minute hits all of them alike, and each one's median is reported: 3 rounds, or
as many as fit in about 30 s (at most 15) for the fast configurations.

- mlplab: ``Trainer.fit`` for one more epoch (its input check included), float32; the optimizer
  step runs in the compiled extension when it was built. "mlplab, NumPy kernels" is the same
  with ``mlplab.set_compiled_kernels(False)``: the engine in NumPy alone.
- PyTorch: the usual eager loop (``randperm``, index the batch, forward, ``cross_entropy``,
  ``backward``, ``Adam.step``, ``loss.item()``), float32, the same number of threads.
- scikit-learn: ``MLPClassifier.partial_fit`` (one epoch each call), with float32 and float64
  input, ``alpha=0``.

Reported per row: seconds per epoch, examples/s, achieved GFLOP/s (the useful work: 2 flops per
weight per example forward, 2 for dW and 2 for dx except the first layer's), its fraction of the
float32 GEMM peak measured in this run (a large square product), its fraction of the "GEMM
floor" (how long the step's own matrix products take, run back to back at their shapes, times
the steps per epoch; measured after every round, median), and the peak resident memory of a
separate process training one epoch. The ratios compare seconds per epoch measured in the same
run; the targets are those of issue 6.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
import mlplab  # noqa: E402

CLASSES = 10


@dataclass(frozen=True)
class Config:
    hidden: tuple[int, ...]
    batch_size: int

    @property
    def name(self) -> str:
        return f"784-{'-'.join(map(str, self.hidden))}-10 batch {self.batch_size}"

    def widths(self, n_features: int) -> list[int]:
        return [n_features, *self.hidden, CLASSES]

    def n_params(self, n_features: int) -> int:
        w = self.widths(n_features)
        return sum(a * b + b for a, b in zip(w[:-1], w[1:]))

    def flops_per_example(self, n_features: int) -> int:
        w = self.widths(n_features)
        weights = [a * b for a, b in zip(w[:-1], w[1:])]
        return 6 * sum(weights) - 2 * weights[0]  # the first layer needs no dx


FULL = [
    Config((256, 256), 32),
    Config((256, 256), 128),
    Config((256, 256), 1024),
    Config((1024, 1024, 1024), 128),
]
QUICK = [Config((64, 64), 32), Config((64, 64), 256), Config((128, 128, 128), 64)]

#: targets (issue 6), as mlplab's seconds per epoch over the other's
TARGETS = {
    "PyTorch": {32: 0.85, 128: 0.85, 1024: 1.0, "wide": 1.0},
    "scikit-learn float64": 1 / 2.5,
    "scikit-learn float32": 1 / 1.5,
}
FLOOR_TARGET = 0.60


# -- data ------------------------------------------------------------------------------------------


def load_data(n: int | None, source: str, seed: int = 0):
    """(X float32 (n, 784), y int64 (n,), description)."""
    if source in ("auto", "fashion-mnist"):
        try:
            (X, y), _ = mlplab.load_fashion_mnist(download=False, dtype="float32")
            if n is not None:
                X, y = X[:n].copy(), y[:n].copy()
            return X, y, "Fashion-MNIST training set"
        except mlplab.data.DatasetNotFoundError:
            if source == "fashion-mnist":
                raise
    rng = np.random.default_rng(seed)
    n = 60_000 if n is None else n
    X = rng.random((n, 784), dtype=np.float32)
    y = np.argmax(X @ rng.standard_normal((784, CLASSES), dtype=np.float32), axis=1)
    return X, y.astype(np.int64), "synthetic (Fashion-MNIST-shaped, seeded)"


# -- the frameworks --------------------------------------------------------------------------------


class Mlplab:
    name = "mlplab"

    def __init__(self, X, y, config: Config, seed: int, compiled: bool | None = None):
        layers = []
        for h in config.hidden:
            layers += [mlplab.Dense(h, kernel_initializer="he_uniform"), mlplab.ReLU()]
        layers.append(mlplab.Dense(CLASSES))
        self.trainer = mlplab.Trainer(
            mlplab.Sequential(layers),
            "softmax_cross_entropy",
            mlplab.adam(1e-3),
            batch_size=config.batch_size,
            epochs=1,
            rng=np.random.default_rng(seed),
            verbose=0,
        )
        self.X, self.y = X, y
        self.compiled = compiled
        if compiled is False:
            self.name = "mlplab, NumPy kernels"

    def epoch(self) -> None:
        mlplab.set_compiled_kernels(self.compiled)
        try:
            self.trainer.fit(self.X, self.y, epochs=1)  # one more epoch (Keras semantics)
        finally:
            mlplab.set_compiled_kernels(None)


class Torch:
    name = "PyTorch"

    def __init__(self, X, y, config: Config, seed: int, fused: bool = False):
        import torch
        from torch import nn

        torch.manual_seed(seed)
        layers: list = []
        widths = config.widths(X.shape[1])
        for a, b in zip(widths[:-2], widths[1:-1]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(widths[-2], widths[-1]))
        self.torch, self.model = torch, nn.Sequential(*layers)
        self.opt = torch.optim.Adam(
            self.model.parameters(), lr=1e-3, **({"fused": True} if fused else {})
        )
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)
        self.bs, self.gen = config.batch_size, torch.Generator().manual_seed(seed)
        if fused:
            self.name = "PyTorch fused Adam"

    def epoch(self) -> None:
        torch, model, opt, bs = self.torch, self.model, self.opt, self.bs
        F = torch.nn.functional
        n = self.X.shape[0]
        perm = torch.randperm(n, generator=self.gen)
        total = 0.0
        for i in range(0, n, bs):
            idx = perm[i : i + bs]
            xb, yb = self.X[idx], self.y[idx]
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * xb.shape[0]


class Sklearn:
    def __init__(self, X, y, config: Config, seed: int, dtype: str):
        from sklearn.neural_network import MLPClassifier

        self.name = f"scikit-learn {dtype}"
        self.X, self.y = X.astype(dtype), y
        self.classes = np.arange(CLASSES)
        self.est = MLPClassifier(
            hidden_layer_sizes=config.hidden,
            solver="adam",
            alpha=0.0,
            batch_size=config.batch_size,
            learning_rate_init=1e-3,
            random_state=seed,
        )

    def epoch(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.est.partial_fit(self.X, self.y, classes=self.classes)


def make_runners(names, X, y, config, seed):
    makers = {
        "mlplab": lambda: Mlplab(X, y, config, seed),
        "mlplab-numpy": lambda: Mlplab(X, y, config, seed, compiled=False),
        "torch": lambda: Torch(X, y, config, seed),
        "torch-fused": lambda: Torch(X, y, config, seed, fused=True),
        "sklearn32": lambda: Sklearn(X, y, config, seed, "float32"),
        "sklearn64": lambda: Sklearn(X, y, config, seed, "float64"),
    }
    return [makers[name]() for name in names]


# -- GEMM rates ------------------------------------------------------------------------------------


def time_op(op, min_seconds: float = 0.2) -> float:
    """Median seconds of one call, over calls filling about ``min_seconds`` (after one warm-up)."""
    op()
    times: list[float] = []
    start = time.perf_counter()
    while time.perf_counter() - start < min_seconds or len(times) < 3:
        t = time.perf_counter()
        op()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def gemm_peak(size: int, rng) -> float:
    """GFLOP/s of a square float32 product, the best of three medians."""
    a = rng.random((size, size), dtype=np.float32)
    b = rng.random((size, size), dtype=np.float32)
    out = np.empty((size, size), dtype=np.float32)
    best = min(time_op(lambda: np.matmul(a, b, out=out)) for _ in range(3))
    return 2 * size**3 / best / 1e9


def gemm_floor(config: Config, n: int, n_features: int, rng) -> float:
    """Seconds per epoch that the matrix products of the training steps alone take: one step's
    products (forward z = xW, backward dW = x^T delta and dx = delta W^T but the first layer's,
    with the operand layouts a backward pass has), run back to back with nothing between them,
    timed over repeated steps, times the steps per epoch."""
    bs = config.batch_size
    widths = config.widths(n_features)
    acts = [rng.random((bs, w), dtype=np.float32) for w in widths]
    deltas = [rng.random((bs, w), dtype=np.float32) for w in widths]
    Ws = [rng.random((a, b), dtype=np.float32) for a, b in zip(widths[:-1], widths[1:])]
    dWs = [np.empty_like(W) for W in Ws]

    def step():
        for i, W in enumerate(Ws):
            np.matmul(acts[i], W, out=acts[i + 1])
        for i in reversed(range(len(Ws))):
            np.matmul(acts[i].T, deltas[i + 1], out=dWs[i])
            if i > 0:
                np.matmul(deltas[i + 1], Ws[i].T, out=deltas[i])

    return time_op(step, 0.5) * n / bs


# -- peak memory, in a fresh process per row -------------------------------------------------------


def _rss_mb(field_name: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    raise OSError(field_name)


def memory_child(args) -> None:
    """Train one epoch in this fresh process and print its peak RSS during training (MB)."""
    X, y, _ = load_data(args.n, args.data)
    config = Config(tuple(args.hidden), args.batch_size)
    runner = make_runners([args.framework], X, y, config, seed=0)[0]
    try:  # reset the high-water mark, so that loading the data does not count
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        before = _rss_mb("VmRSS")
        runner.epoch()
        peak = _rss_mb("VmHWM")
    except OSError:  # no /proc: the peak of the whole process
        import resource

        before = float("nan")
        runner.epoch()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rss_before_mb": before, "peak_rss_mb": peak}))


def peak_memory(framework: str, config: Config, args) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--memory-child",
        framework,
        "--data",
        args.data,
        "--batch-size",
        str(config.batch_size),
        "--threads",
        str(args.threads),
        "--hidden",
        *map(str, config.hidden),
    ]
    if args.n is not None:
        cmd += ["--n", str(args.n)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"memory run of {framework} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- the run ---------------------------------------------------------------------------------------


def ratio_target(other: str, config: Config):
    if other.startswith("scikit-learn"):
        return TARGETS.get(other)
    if other == "PyTorch":
        return TARGETS["PyTorch"].get("wide" if len(config.hidden) > 2 else config.batch_size)
    return None


def run(args) -> dict:
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads)
    if any(f.startswith("torch") for f in args.frameworks):
        import torch

        torch.set_num_threads(args.threads)
    configs = QUICK if args.quick else FULL
    if args.configs is not None:
        configs = [configs[i] for i in args.configs]
    X, y, source = load_data(args.n, args.data)
    n, d = X.shape
    rng = np.random.default_rng(0)
    peak = gemm_peak(512 if args.quick else 2048, rng)
    print(
        f"data: {source}, {n} x {d}; threads: {args.threads}; float32 GEMM peak {peak:.0f} GFLOP/s",
        flush=True,
    )
    result = {
        "data": source,
        "n": n,
        "threads": args.threads,
        "gemm_peak_gflops": peak,
        "min_repeats": args.repeats,
        "configs": [],
    }
    for config in configs:
        runners = make_runners(args.frameworks, X, y, config, seed=0)
        start = time.perf_counter()
        for r in runners:  # warm-up: first-touch allocation, BLAS threads, caches
            r.epoch()
        round_s = time.perf_counter() - start
        # fast configurations get more rounds (about 30 s of timing, at most 15 rounds): their
        # ratios are the ones near the targets, and a median of 3 short epochs is noisy here
        repeats = (
            max(args.repeats, min(15, int(30 / max(round_s, 1e-9))))
            if not args.quick
            else args.repeats
        )
        times: dict[str, list[float]] = {r.name: [] for r in runners}
        floors = []  # measured every round too: one measurement drifts like one epoch
        for _ in range(repeats):
            for r in runners:
                start = time.perf_counter()
                r.epoch()
                times[r.name].append(time.perf_counter() - start)
            floors.append(gemm_floor(config, n, d, rng))
        floor = statistics.median(floors)
        flops = config.flops_per_example(d) * n
        rows = []
        for r in runners:
            sec = statistics.median(times[r.name])
            row = {
                "framework": r.name,
                "seconds_per_epoch": sec,
                "examples_per_s": n / sec,
                "gflops": flops / sec / 1e9,
                "peak_fraction": flops / sec / 1e9 / peak,
                "floor_fraction": floor / sec,
                "times": times[r.name],
            }
            rows.append(row)
        entry = {
            "config": config.name,
            "hidden": list(config.hidden),
            "batch_size": config.batch_size,
            "n_params": config.n_params(d),
            "gemm_floor_s": floor,
            "rows": rows,
        }
        if args.memory != "none":
            for r, key in zip(rows, args.frameworks):
                if args.memory == "all" or key == "mlplab":
                    r.update(peak_memory(key, config, args))
            entry["dataset_mb"] = (X.nbytes + y.nbytes) / 2**20
            entry["memory_bound_mb"] = entry["dataset_mb"] + 4 * 4 * entry["n_params"] / 2**20 + 200
        result["configs"].append(entry)
        print_config(entry, flush=True)
    return result


def ratios(entry) -> list[tuple[str, float, float | None]]:
    """(other framework, mlplab seconds / other seconds, target ratio or None)."""
    rows = {r["framework"]: r for r in entry["rows"]}
    if "mlplab" not in rows:
        return []
    config = Config(tuple(entry["hidden"]), entry["batch_size"])
    ours = rows["mlplab"]["seconds_per_epoch"]
    return [
        (name, ours / r["seconds_per_epoch"], ratio_target(name, config))
        for name, r in rows.items()
        if name != "mlplab"
    ]


def print_config(entry, flush=False) -> None:
    print(
        f"\n### {entry['config']} ({entry['n_params']:,} parameters, GEMM floor "
        f"{entry['gemm_floor_s']:.2f} s/epoch)"
    )
    print(
        "| framework | s/epoch | examples/s | GFLOP/s | % GEMM peak | % GEMM floor | peak RSS MB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in entry["rows"]:
        mem = f"{r['peak_rss_mb']:.0f}" if "peak_rss_mb" in r else "-"
        print(
            f"| {r['framework']} | {r['seconds_per_epoch']:.3f} | {r['examples_per_s']:,.0f} | "
            f"{r['gflops']:.0f} | {100 * r['peak_fraction']:.0f}% | "
            f"{100 * r['floor_fraction']:.0f}% | {mem} |"
        )
    for name, ratio, target in ratios(entry):
        verdict = (
            ""
            if target is None
            else (f" (target <= {target:.2f}: {'met' if ratio <= target else 'NOT met'})")
        )
        print(f"mlplab / {name}: {ratio:.2f}{verdict}")
    ours = {r["framework"]: r for r in entry["rows"]}.get("mlplab")
    if ours is not None and len(entry["hidden"]) > 2:
        f = ours["floor_fraction"]
        print(
            f"mlplab at {100 * f:.0f}% of the GEMM floor (target >= {100 * FLOOR_TARGET:.0f}%: "
            f"{'met' if f >= FLOOR_TARGET else 'NOT met'})"
        )
    if ours is not None and "peak_rss_mb" in ours and "memory_bound_mb" in entry:
        ok = ours["peak_rss_mb"] <= entry["memory_bound_mb"]
        print(
            f"mlplab peak RSS {ours['peak_rss_mb']:.0f} MB (bound: dataset + 4 x parameters + "
            f"200 MB = {entry['memory_bound_mb']:.0f} MB: {'met' if ok else 'NOT met'})",
            flush=flush,
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run (2,000 examples)")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    parser.add_argument("--data", choices=["auto", "fashion-mnist", "synthetic"], default=None)
    parser.add_argument("--n", type=int, default=None, help="use the first n examples")
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed epochs, at least (default 3; more for fast configurations)",
    )
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument(
        "--frameworks",
        nargs="+",
        default=None,
        choices=["mlplab", "mlplab-numpy", "torch", "torch-fused", "sklearn32", "sklearn64"],
    )
    parser.add_argument(
        "--configs",
        type=int,
        nargs="+",
        default=None,
        help="run only these configurations (0-based indices into the list)",
    )
    parser.add_argument(
        "--memory",
        choices=["all", "mlplab", "none"],
        default=None,
        help="peak RSS in a fresh process per row (default all; quick: mlplab)",
    )
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--hidden", type=int, nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
        args.framework = args.memory_child
        memory_child(args)
        return 0
    args.data = args.data or ("synthetic" if args.quick else "auto")
    args.n = args.n or (2000 if args.quick else None)
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.memory = args.memory or ("mlplab" if args.quick else "all")
    if args.frameworks is None:
        args.frameworks = ["mlplab", "sklearn32", "sklearn64"]
        if importlib.util.find_spec("torch") is not None:
            args.frameworks.insert(1, "torch")
        else:
            print("(PyTorch not installed: its rows are skipped)", file=sys.stderr)
        from mlplab.optim import fast

        if fast.AVAILABLE:  # the engine without its compiled optimizer step, too
            args.frameworks.insert(1, "mlplab-numpy")
        else:
            print("(mlplab._sweep not built: mlplab runs its NumPy kernels)", file=sys.stderr)
    result = run(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
