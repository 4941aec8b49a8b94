"""How fast the NumPy trainer is, measured against yardsticks in the same run.

    python benchmarks/bench.py                    # everything, on train.csv (a few minutes)
    python benchmarks/bench.py --quick            # tiny: 2000 rows, 1 epoch each, for the smoke test
    python benchmarks/bench.py --epochs 3 --no-table --no-memory
    python benchmarks/bench.py --mem-epochs 2     # a shorter `python main.py` for the memory figure
    python benchmarks/bench.py --no-torch         # without the PyTorch comparison
    python benchmarks/bench.py --csv other.csv --rows 20000 --table-rows 10000

Run from the project root (PyTorch for the comparison: pip install -r
requirements-bench.txt). The machine may be shared and noisy, so every
figure that matters is a ratio of two timings taken in this one run, with
the runs being compared interleaved epoch by epoch so that a burst of load
from elsewhere falls on both sides alike. It measures:

  1. the median seconds of one training epoch of main.py's default network,
     through utils.train_epoch called exactly as main.train calls it;
  2. the matmul floor of that epoch: the same matrix products with the same
     shapes and dtype, on preallocated operands, with nothing else;
  3. the same recipe in PyTorch on the CPU, with as many threads as NumPy's BLAS;
  4. the peak resident memory of a default `python main.py` run (a child
     process), and the seconds data.load_csv takes to read the CSV;
  5. how the epoch time and its ratio to the floor change with the batch
     size and with the width of the network;
  6. what batch normalisation (BATCH_NORM = True) costs: the same epoch with
     it, interleaved with the epoch without, and their ratio.

It ends with one line, `headline: ...`, of the main figures.
"""

import argparse
import ctypes
import datetime
import itertools
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import data  # the trainer's driver: its constants are the defaults benchmarked
import main
import runs
import settings
import utils

TABLE_BATCH_SIZES = [32, 64, 128, 256, 512]
TABLE_LAYERS = [[784, 10, 10], [784, 256, 128, 64, 10], [784, 512, 512, 10],
                [784, 1024, 1024, 10]]
AUGMENT_KEYS = ("MAX_SHIFT", "MAX_ROTATE", "MAX_SCALE")  # those main.py has are shown
QUICK_ROWS = 2000
SETTLE_SECONDS = 0.2  # a pause between two timed runs, for idle BLAS threads to sleep


# ----------------------------------------------------------------------------
# options and the machine


def parse_args(argv):
    """The command-line options, with --quick's defaults filled in."""
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--csv", default=str(ROOT / "train.csv"),
                   help="the training CSV (default: train.csv in the project root)")
    p.add_argument("--rows", type=int, help="use only the first N rows of the CSV")
    p.add_argument("--epochs", type=int, help="timed epochs per measurement (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="untimed epochs first (default 1)")
    p.add_argument("--quick", action="store_true",
                   help=f"tiny: {QUICK_ROWS} rows, 1 epoch each, no PyTorch or memory run "
                        "unless asked, a table of 2 batch sizes and 1 more width")
    p.add_argument("--torch", action=argparse.BooleanOptionalAction,
                   help="compare with PyTorch (default: yes, except with --quick)")
    p.add_argument("--memory", action=argparse.BooleanOptionalAction,
                   help="measure the peak RSS of python main.py (default: yes, except with --quick)")
    p.add_argument("--mem-epochs", type=int,
                   help="EPOCHS for that child run (default: main.py's own)")
    p.add_argument("--table", action=argparse.BooleanOptionalAction, default=True,
                   help="the table over batch sizes and widths (default: yes)")
    p.add_argument("--table-epochs", type=int, help="timed epochs per table row (default 3)")
    p.add_argument("--table-rows", type=int, help="use only N training rows for the table")
    args = p.parse_args(argv)
    for name in ("rows", "epochs", "mem_epochs", "table_epochs", "table_rows"):
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        p.error("--warmup must be at least 0")
    defaults = {"rows": QUICK_ROWS if args.quick else None, "epochs": 1 if args.quick else 5,
                "table_epochs": 1 if args.quick else 3, "torch": not args.quick,
                "memory": not args.quick}
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.settle = 0.0 if args.quick else SETTLE_SECONDS
    return args


def usable_cpus():
    """How many CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def blas_threads():
    """How many threads NumPy's BLAS uses, and how that was found out.

    threadpoolctl answers when installed; otherwise the OpenBLAS that NumPy
    loaded is asked directly; failing both, OpenBLAS's default is assumed:
    one thread per CPU this process may run on.
    """
    try:
        import threadpoolctl
    except ImportError:
        pass
    else:
        pools = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
        if pools:
            return pools[0]["num_threads"], f"threadpoolctl, {pools[0]['internal_api']}"
    try:
        with open("/proc/self/maps", encoding="utf-8") as f:
            libs = {line.split()[-1] for line in f if "openblas" in line.lower()}
    except OSError:  # not Linux
        libs = set()
    for lib in sorted(libs):
        so = ctypes.CDLL(lib)
        for symbol in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                       "openblas_get_num_threads"):
            if hasattr(so, symbol):
                return getattr(so, symbol)(), f"asked {Path(lib).name}"
    return usable_cpus(), "assumed: one per CPU"


def cpu_model():
    """The CPU's model name from /proc/cpuinfo, or the platform's guess."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_lines(threads, source):
    """The lines that say what machine and software the figures come from."""
    now = datetime.datetime.now(datetime.UTC).astimezone()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"date          {now.isoformat(timespec='seconds')}",
        (f"cpu           {os.cpu_count()} cpus ({usable_cpus()} usable), "
         f"{cpu_model()}"),
        f"python        {platform.python_version()}, numpy {np.__version__}",
        f"BLAS threads  {threads} ({source})",
        f"load average  {load} (1, 5, 15 min) at the start",
    ]


# ----------------------------------------------------------------------------
# data and settings


def default_config():
    """main.py's settings as main.main sees them with no overrides."""
    return dict(main.DEFAULTS)


def load_training_rows(path, c, rows):
    """Load the CSV three times (timing each), and split it as main.py does.

    Returns (X_train, y_train, load_seconds, n_file, n_used): the uint8 pixels
    and labels main.train would get (after holding out VAL_FRACTION with the
    seed data.load_data uses), the seconds of each load, the rows in the file
    and the rows used (the first `rows` of them, if given).
    """
    seconds = []
    for _ in range(3):
        start = time.perf_counter()
        X, y = data.load_csv(path, c["LAYERS"][-1] - 1)
        seconds.append(time.perf_counter() - start)
    if y is None:
        raise data.InputError(f"{path}: needs a 'label' column to train on")
    n_file = len(X)
    if rows:
        X, y = X[:rows], y[:rows]
    X_train, y_train, _, _ = data.split_validation(
        X, y, c["VAL_FRACTION"], np.random.default_rng(c["SEED"]))
    return X_train, y_train, seconds, n_file, len(X)


# ----------------------------------------------------------------------------
# what is timed: each maker returns a function that runs one epoch


def augmentation(c, on=True):
    """What main.train passes utils.train_epoch after lr_at (a function, or None)."""
    return data.augmentation(c) if on else None


def augments(c):
    """Whether main.py's settings augment the training batches."""
    return any(c.get(key) for key in AUGMENT_KEYS)


def our_epoch(c, layers, batch_size, X, y, augment=True, batch_norm=None):
    """One epoch of utils.train_epoch, set up and called exactly as main.train does.

    augment=False leaves out main.py's augmentation, for a like-for-like
    comparison with PyTorch (which trains on the plain rows). batch_norm
    True or False overrides main.py's BATCH_NORM.
    """
    activation = c["ACTIVATION"]
    if batch_norm is None:
        batch_norm = c["BATCH_NORM"]
    rng = np.random.default_rng([c["SEED"], 1])
    params = utils.init_params(layers, rng, c["INIT"] or utils.default_init(activation),
                               batch_norm=batch_norm)
    stats = utils.init_stats(params)
    state = utils.init_state(params, c["OPTIMISER"])
    steps_per_epoch = math.ceil(len(X) / batch_size)
    total_steps = c["EPOCHS"] * steps_per_epoch

    def lr_at(step):
        return utils.learning_rate(step, total_steps, c["LEARNING_RATE"], c["SCHEDULE"],
                                   round(c["WARMUP_EPOCHS"] * steps_per_epoch),
                                   c["STEP_EPOCHS"] * steps_per_epoch, c["STEP_GAMMA"])

    rates = [float(p) for p in settings.dropout_rates(c["DROPOUT"], layers)]
    options = {"activation": activation, "weight_decay": c["WEIGHT_DECAY"],
               "optimiser": c["OPTIMISER"], "momentum": c["MOMENTUM"],
               "max_norm_c": c["MAX_NORM"], "dropout": rates if any(rates) else None,
               "stats": stats}

    augment_with = augmentation(c, augment)

    def run():
        result = utils.train_epoch(params, state, X, y, batch_size, rng, lr_at,
                                   augment_with, lambda: False, **options)
        if not all(np.isfinite(p).all() for layer in params for p in layer):
            return "diverged"
        return result["status"]

    return run


def matmul_floor_epoch(layers, batch_size, n_rows, seed=0):
    """The matrix products of one epoch alone, on preallocated float32 operands.

    Per batch, as utils.forward and utils.backward compute them: A_prev @ W
    for every layer, then from the last layer down A_prev.T @ dZ for every
    layer and dZ @ W.T for every layer but the first. There are as many
    batches as an epoch of n_rows has, the last one partial when the batch
    size does not divide n_rows. Every product writes into a preallocated
    output (np.matmul's out=), so nothing is allocated while timed.
    """
    rng = np.random.default_rng(seed)

    def rand(*shape):
        return rng.random(shape, dtype=np.float32)

    weights = [rand(n_in, n_out) for n_in, n_out in itertools.pairwise(layers)]
    sizes = [batch_size] * (n_rows // batch_size) + ([n_rows % batch_size] if n_rows % batch_size else [])
    operands = {}
    for n in set(sizes):
        operands[n] = [
            {"A": rand(n, W.shape[0]), "Z": np.empty((n, W.shape[1]), np.float32),
             "dZ": rand(n, W.shape[1]), "dW": np.empty_like(W),
             "dA": np.empty((n, W.shape[0]), np.float32)}
            for W in weights
        ]

    def run():
        for n in sizes:
            ops = operands[n]
            for W, o in zip(weights, ops):
                np.matmul(o["A"], W, out=o["Z"])
            for l in range(len(weights) - 1, -1, -1):
                o = ops[l]
                np.matmul(o["A"].T, o["dZ"], out=o["dW"])
                if l:
                    np.matmul(o["dZ"], weights[l].T, out=o["dA"])
        return "ok"

    return run


def matmul_flops(layers, n_rows):
    """Floating-point operations of an epoch's matrix products (2 per multiply-add)."""
    pairs = list(itertools.pairwise(layers))
    per_row = sum(n_in * n_out for n_in, n_out in pairs)
    return 2 * n_rows * (2 * per_row + sum(n_in * n_out for n_in, n_out in pairs[1:]))


def torch_epoch(torch, c, layers, batch_size, X, y, threads):
    """One epoch of the same recipe in PyTorch on the CPU, float32.

    nn.Sequential of Linear layers with main.py's activation between them,
    cross-entropy, SGD with main.py's learning rate and momentum (Adam or
    AdamW when main.py uses those), the data converted once to a float32
    tensor in [0, 1], the rows shuffled every epoch with torch.randperm.
    Like utils.train_epoch, it keeps the running loss and the count of
    right answers of every batch.
    """
    torch.set_num_threads(threads)
    torch.manual_seed(c["SEED"])
    nn = torch.nn
    act = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.01), "tanh": nn.Tanh,
           "sigmoid": nn.Sigmoid}[c["ACTIVATION"]]
    modules = []
    for n_in, n_out in itertools.pairwise(layers):
        modules += [nn.Linear(n_in, n_out), act()]
    model = nn.Sequential(*modules[:-1])
    opt = make_torch_optimiser(torch, c, model.parameters())
    X_all = torch.from_numpy(utils.normalise(X))
    y_all = torch.from_numpy(y)
    loss_fn = nn.CrossEntropyLoss()

    def run():
        model.train()
        order = torch.randperm(len(X_all))
        total_loss, correct = 0.0, 0
        for start in range(0, len(X_all), batch_size):
            idx = order[start:start + batch_size]
            xb, yb = X_all[idx], y_all[idx]
            logits = model(xb)
            loss = loss_fn(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total_loss += loss.item() * len(idx)
            correct += int((logits.detach().argmax(dim=1) == yb).sum())
        return "ok" if math.isfinite(total_loss) else "diverged"

    return run


def make_torch_optimiser(torch, c, parameters):
    """torch.optim's counterpart of main.py's OPTIMISER, with its settings."""
    lr, decay = c["LEARNING_RATE"], c["WEIGHT_DECAY"]
    if c["OPTIMISER"] == "adam":
        return torch.optim.Adam(parameters, lr=lr, weight_decay=decay)
    if c["OPTIMISER"] == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=decay)
    momentum = c["MOMENTUM"] if c["OPTIMISER"] in ("momentum", "nesterov") else 0.0
    return torch.optim.SGD(parameters, lr=lr, momentum=momentum, weight_decay=decay,
                           nesterov=c["OPTIMISER"] == "nesterov")


def import_torch():
    """(torch, None) if PyTorch imports, else (None, the reason it does not)."""
    try:
        import torch
    except ImportError as e:
        return None, f"PyTorch is not installed ({e}); pip install -r requirements-bench.txt"
    return torch, None


# ----------------------------------------------------------------------------
# timing


def time_interleaved(runs, epochs, warmup, settle=SETTLE_SECONDS):
    """Time several epoch functions in turn, round after round.

    runs -- a dict of name: function running one epoch and returning its status
    Each function first runs `warmup` untimed epochs; then every round times
    one epoch of each, so slow spells of a shared machine hit all alike.
    A pause of `settle` seconds before each timed epoch lets the BLAS and
    OpenMP threads of the previous one stop spinning.
    Returns a dict of name: (list of seconds, the last status other than "ok"
    or "ok").
    """
    seconds = {name: [] for name in runs}
    status = dict.fromkeys(runs, "ok")
    for run in runs.values():
        for _ in range(warmup):
            run()
    for _ in range(epochs):
        for name, run in runs.items():
            time.sleep(settle)
            start = time.perf_counter()
            result = run()
            seconds[name].append(time.perf_counter() - start)
            if result != "ok":
                status[name] = result
    return {name: (seconds[name], status[name]) for name in runs}


def spread(seconds):
    """How far the slowest run is above the fastest, as a fraction."""
    return max(seconds) / min(seconds) - 1 if min(seconds) > 0 else math.nan


def describe(seconds):
    """The median, min and max of a list of seconds, as one short text."""
    return (f"{statistics.median(seconds):.3f} s (min {min(seconds):.3f}, "
            f"max {max(seconds):.3f}, n={len(seconds)})")


def peak_rss_of_main(csv_path, epochs):
    """Run `python main.py` as a child; return its peak RSS in MB, exit code and seconds.

    Its weights and pictures go to a temporary folder (--RUNS_DIR and
    --IMAGES_DIR), so the project's own are left alone. The peak comes from
    getrusage(RUSAGE_CHILDREN), the largest of the children waited for so
    far: this must be the first child of the process to be exact, which is
    checked (ru_maxrss is in KB on Linux).
    Returns (mb, returncode, seconds, exact).
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with tempfile.TemporaryDirectory(prefix="bench-main-") as tmp:
        argv = [sys.executable, "main.py", f"--TRAIN_CSV={csv_path}",
                f"--RUNS_DIR={tmp}", f"--IMAGES_DIR={tmp}"]
        if epochs:
            argv.append(f"--EPOCHS={epochs}")
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
    if done.returncode:
        print(done.stdout[-2000:], done.stderr[-2000:], sep="\n", file=sys.stderr)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak / 1024, done.returncode, seconds, before == 0 or peak > before


# ----------------------------------------------------------------------------
# the report


def headline_epoch(args, c, X, y, threads):
    """Sections 1-3 and 6: our epoch, its matmul floor and PyTorch's, interleaved.

    When main.py augments its batches, our epoch is also timed without the
    augmentation, like for like with PyTorch and the floor; and it is timed
    with batch normalisation switched the other way from main.py's BATCH_NORM.
    Returns a dict of name: (seconds, status), the reason PyTorch was
    skipped (None when it ran) and the torch module (or None).
    """
    layers, batch = c["LAYERS"], c["BATCH_SIZE"]
    runs = {"ours": our_epoch(c, layers, batch, X, y)}
    if augments(c):
        runs["ours, no augm."] = our_epoch(c, layers, batch, X, y, augment=False)
    other = "ours, no BN" if c["BATCH_NORM"] else "ours, BN"
    runs[other] = our_epoch(c, layers, batch, X, y, batch_norm=not c["BATCH_NORM"])
    runs["matmul floor"] = matmul_floor_epoch(layers, batch, len(X))
    skipped = "not asked for (--no-torch, or --quick without --torch)"
    torch = None
    if args.torch:
        torch, skipped = import_torch()
    if torch is not None:
        runs["PyTorch"] = torch_epoch(torch, c, layers, batch, X, y, threads)
    return time_interleaved(runs, args.epochs, args.warmup, args.settle), skipped, torch


def scaling_table(args, c, X, y):
    """Section 5: our epoch and its floor over batch sizes and over widths."""
    batch_sizes, widths = TABLE_BATCH_SIZES, TABLE_LAYERS
    if args.quick:
        batch_sizes, widths = [c["BATCH_SIZE"], 2 * c["BATCH_SIZE"]], widths[:1]
    if args.table_rows:
        X, y = X[:args.table_rows], y[:args.table_rows]
    cases = []  # the default network at the default batch size once, not twice
    for case in [(bs, c["LAYERS"]) for bs in batch_sizes] + [(c["BATCH_SIZE"], w) for w in widths]:
        if case not in cases:
            cases.append(case)
    header = (f"{'batch':>5}  {'layers':<22} {'batches':>7}  {'ours s':>8}  {'floor s':>8}  "
              f"{'ours/floor':>10}  {'(of mins)':>9}  {'floor GFLOP/s':>13}  {'ours spread':>11}")
    lines = [header, "-" * len(header)]
    for bs, layers in cases:
        timed = time_interleaved({"ours": our_epoch(c, layers, bs, X, y),
                                  "floor": matmul_floor_epoch(layers, bs, len(X))},
                                 args.table_epochs, args.warmup, args.settle)
        ours, floor = (statistics.median(timed[k][0]) for k in ("ours", "floor"))
        note = "" if timed["ours"][1] == "ok" else f"  ({timed['ours'][1]})"
        gflops = matmul_flops(layers, len(X)) / floor / 1e9
        lines.append(f"{bs:>5}  {runs.arch_name(layers):<22} {math.ceil(len(X) / bs):>7}  "
                     f"{ours:>8.3f}  {floor:>8.3f}  {ours / floor:>9.2f}x  "
                     f"{min(timed['ours'][0]) / min(timed['floor'][0]):>8.2f}x  {gflops:>13.1f}  "
                     f"{spread(timed['ours'][0]):>10.0%}{note}")
    return len(X), lines


def report_memory(args, c):
    """Section 4a: print the peak RSS of a `python main.py` child; return its MB or None."""
    epochs = args.mem_epochs or c["EPOCHS"]
    which = f"--EPOCHS={epochs}" if args.mem_epochs else f"EPOCHS={epochs}, main.py's default"
    print(f"\n... running python main.py ({which}) for its peak memory", flush=True)
    rss, code, seconds, exact = peak_rss_of_main(os.path.abspath(args.csv), args.mem_epochs)
    if code:
        print(f"python main.py failed with exit status {code}; its peak RSS is not reported")
        return None
    print(f"peak RSS of python main.py ({which}; weights and pictures to a temp folder): "
          f"{rss:.0f} MB; the run took {seconds:.1f} s"
          + ("" if exact else " (an upper bound: an earlier child may have been larger)"))
    return rss


def report_setting(args, c, X, csv_name, load_seconds, n_file, n_used):
    """Section 4b and the setting: the load time, the rows and main.py's network."""
    print(f"\nload {csv_name} ({n_file} rows) with data.load_csv: {describe(load_seconds)}")
    print(f"training rows: {len(X)} ({n_used} rows of {csv_name}"
          f"{' (--rows)' if args.rows else ''}, less VAL_FRACTION = {c['VAL_FRACTION']} held out, "
          "as main.py trains)")
    shown = ["LAYERS", "BATCH_SIZE", "ACTIVATION", "OPTIMISER", "LEARNING_RATE", "MOMENTUM",
             "SCHEDULE", "WEIGHT_DECAY", "DROPOUT", *(k for k in AUGMENT_KEYS if k in c)]
    print("main.py's defaults: " + ", ".join(f"{k} = {c[k]}" for k in shown))


def report_epochs(args, c, X, y, threads):
    """Sections 1-3: print the epoch timings; return the headline's first part."""
    print(f"\n... timing {args.warmup} warm-up + {args.epochs} epochs each, interleaved",
          flush=True)
    timed, skipped, torch = headline_epoch(args, c, X, y, threads)
    median = {name: statistics.median(secs) for name, (secs, _) in timed.items()}
    ours, best = median["ours"], min(timed["ours"][0])
    print(f"\n{'epoch of':<15} {'median s':>9}  {'min s':>7}  {'max s':>7}  {'spread':>6}  "
          f"{'ours/this':>9}  {'(of mins)':>9}")
    for name, (secs, status) in timed.items():
        note = "" if status == "ok" else f"  ({status}: timing not comparable)"
        print(f"{name:<15} {median[name]:>9.3f}  {min(secs):>7.3f}  {max(secs):>7.3f}  "
              f"{spread(secs):>6.0%}  {ours / median[name]:>8.2f}x  {best / min(secs):>8.2f}x{note}")
    print("ours = utils.train_epoch as main.train calls it; ours/this = ratio of medians (the "
          "headline's), (of mins) = ratio of the fastest epochs, the least disturbed by other "
          "work; spread = slowest / fastest - 1")
    flops = matmul_flops(c["LAYERS"], len(X))
    print(f"matmul floor: {flops / 1e9:.2f} GFLOP per epoch, "
          f"{flops / median['matmul floor'] / 1e9:.1f} GFLOP/s")
    if torch is not None:
        print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads "
              "(torch.set_num_threads = NumPy's BLAS threads), no augmentation")
        torch_part = f"{ours / median['PyTorch']:.2f}x PyTorch ({median['PyTorch']:.2f} s)"
    else:
        print(f"PyTorch skipped: {skipped}")
        torch_part = "PyTorch skipped"
    part = f"epoch {ours:.2f} s = {ours / median['matmul floor']:.2f}x matmul floor, {torch_part}"
    if "ours, no augm." in median:
        plain = median["ours, no augm."]
        part += (f" (without augmentation {plain:.2f} s = "
                 f"{plain / median['matmul floor']:.2f}x floor"
                 + (f", {plain / median['PyTorch']:.2f}x PyTorch)" if torch else ")"))
    with_bn, without_bn = ((ours, median["ours, no BN"]) if c["BATCH_NORM"]
                           else (median["ours, BN"], ours))
    mins = ((best, min(timed["ours, no BN"][0])) if c["BATCH_NORM"]
            else (min(timed["ours, BN"][0]), best))
    print(f"batch normalisation (BATCH_NORM = True) on every hidden layer: {with_bn:.3f} s per "
          f"epoch against {without_bn:.3f} s without, {with_bn / without_bn:.2f}x "
          f"({mins[0] / mins[1]:.2f}x of the fastest epochs)")
    part += f"; batch norm {with_bn / without_bn:.2f}x per epoch"
    return part


def report_table(args, c, X, y):
    """Section 5: print the table over batch sizes and widths."""
    print(f"\n... timing the table: {args.warmup} warm-up + {args.table_epochs} epochs "
          "per row, interleaved with its floor", flush=True)
    n_table, lines = scaling_table(args, c, X, y)
    print(f"\nhow the epoch grows with the work (ours as main.py trains, "
          f"{'with' if augments(c) else 'without'} its augmentation): median of "
          f"{args.table_epochs} epochs after {args.warmup} warm-up, on {n_table} training rows"
          f"{' (--table-rows)' if args.table_rows else ''}; spread = slowest / fastest - 1")
    print("\n".join(lines))


def run_benchmark(argv):
    """Measure everything asked for, print the report, and end with the headline."""
    args = parse_args(argv)
    c = default_config()
    threads, source = blas_threads()
    csv_name = Path(args.csv).name
    print("benchmark of the NumPy trainer (benchmarks/bench.py)")
    print("\n".join(machine_lines(threads, source)), flush=True)
    # Memory first: getrusage's figure for children is exact only for the first one.
    rss = report_memory(args, c) if args.memory else None
    X, y, load_seconds, n_file, n_used = load_training_rows(args.csv, c, args.rows)
    report_setting(args, c, X, csv_name, load_seconds, n_file, n_used)
    epoch_part = report_epochs(args, c, X, y, threads)
    if args.table:
        report_table(args, c, X, y)
    print(f"\nload average  {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end"
          f" (above {threads} means other work shared the CPUs: read the ratios, not the seconds)")
    rss_part = f"peak RSS of python main.py {rss:.0f} MB" if rss is not None else "peak RSS skipped"
    print(f"headline: {epoch_part}; {rss_part}; "
          f"load {csv_name} {statistics.median(load_seconds):.2f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(run_benchmark(sys.argv[1:]))
    except data.InputError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
