"""How fast the NumPy trainer is, measured against yardsticks and peers in the same run.

    python benchmarks/bench.py                    # everything, on train.csv (10-20 minutes)
    python benchmarks/bench.py --quick            # tiny: 2000 rows, 1-2 epochs each, for the smoke test
    python benchmarks/bench.py --epochs 3 --no-table --no-memory --no-race --no-threads
    python benchmarks/bench.py --mem-epochs 2     # a shorter `python main.py` for the memory figure
    python benchmarks/bench.py --no-torch --no-sklearn   # without the peers
    python benchmarks/bench.py --hogs 1 2         # the threads table with 1, then 2 competing processes
    python benchmarks/bench.py --csv other.csv --rows 20000 --table-rows 10000
    python benchmarks/bench.py --recipe recipes/record.py --rows 20000 --epochs 3 \
        --no-table --no-memory --no-race --no-threads --no-sklearn   # a recipe's network

Run from the project root (the peers: pip install -r requirements-bench.txt).
The machine may be shared and noisy, so every figure that matters is a
ratio of two timings taken in this one run, with the runs being compared
interleaved epoch by epoch so that a burst of load from elsewhere falls on
all sides alike. It measures:

  1. the median seconds of one training epoch of main.py's default network,
     through utils.train_epoch called exactly as main.train calls it
     (main.setup, and machine.BlasThreads's threads);
  2. the matmul floor of that epoch: the same matrix products with the same
     shapes and dtype, on preallocated operands, with nothing else;
  3. the same recipe in PyTorch on the CPU (its threads following the load as ours do),
     without augmentation and, when main.py's settings augment, with the
     same batches as ours (augment.py's, in NumPy); its OpenMP threads
     spin between parallel regions as libgomp's default has them, or with
     --omp-wait passive sleep (import_peer; docs/record.md measures both);
  4. the peak resident memory of a default `python main.py` run (a child
     process), and the seconds data.load_csv takes to read the CSV;
  5. how the epoch time and its ratio to the floor change with the batch
     size and with the width of the network;
  6. the peers, trained for main.py's EPOCHS each, interleaved epoch by
     epoch and scored on the test set after every epoch (by the benchmark
     only: the scoring is not timed and chooses nothing): ours, PyTorch and
     scikit-learn's MLPClassifier, with main.py's recipe where the peer can
     follow it and like for like (constant learning rate, no augmentation)
     where it cannot; then the training seconds each needed to first reach
     98.0% and 98.5% test accuracy;
  7. ours under 1 and 2 BLAS threads and main.py's THREADS = 0 (as many as
     other work leaves free), on the machine as it is and beside competing
     CPU-bound processes that the benchmark starts and stops itself;
  8. what batch normalisation (BATCH_NORM = True) costs: the same epoch with
     it, interleaved with the epoch without, and their ratio; what writing
     a checkpoint of the network costs, against the epoch; and what the
     per-layer statistics main.train reads after every epoch cost
     (diagnostics.layer_stats on its probe of validation rows): the epoch
     with them, interleaved with the epoch without, and their own time;
  9. with --live: what the live page costs (python main.py --LIVE=True):
     the epoch with the page open in headless Chromium and a digit on its
     pad, against the epoch without, in interleaved blocks.

It begins with the BLAS library and kernel NumPy runs on, and ends with
one line, `headline: ...`, of the main figures.
"""

import argparse
import collections
import contextlib
import datetime
import io
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
import threadpoolctl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import augment
import data  # the trainer's driver: its constants are the defaults benchmarked
import diagnostics
import machine
import main
import runs
import settings
import stopping
import utils

TABLE_BATCH_SIZES = [32, 64, 128, 256, 512]
TABLE_LAYERS = [[784, 10, 10], [784, 256, 128, 64, 10], [784, 512, 512, 10],
                [784, 1024, 1024, 10]]
AUGMENT_KEYS = ("MAX_SHIFT", "MAX_ROTATE", "MAX_SCALE", "ELASTIC_ALPHA")  # those main.py has are shown
QUICK_ROWS = 2000
SETTLE_SECONDS = 0.2  # a pause between two timed runs, for idle BLAS threads to sleep
TARGETS = (0.98, 0.985)  # test accuracies of the time-to-accuracy table
FAST_RECIPE = ROOT / "recipes" / "fast.py"
BUSY_LOOP = "while True: pass"
LIVE_BLOCK = 3  # epochs in a row with the live page open (its epoch pictures overlap the next)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # a competing process: one CPU-bound thread, like a busy browser tab


# ----------------------------------------------------------------------------
# options and the machine


def parse_args(argv):
    """The command-line options, with --quick's defaults filled in."""
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--csv", default=str(ROOT / "train.csv"),
                   help="the training CSV (default: train.csv in the project root)")
    p.add_argument("--test-csv", default=str(ROOT / "test.csv"),
                   help="the CSV the peers are scored on (default: test.csv in the project root)")
    p.add_argument("--rows", type=int, help="use only the first N rows of the CSV")
    p.add_argument("--recipe", help="measure main.py's settings with this recipe file applied "
                                    "(default: main.py's own settings)")
    p.add_argument("--epochs", type=int, help="timed epochs per measurement (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="untimed epochs first (default 1)")
    p.add_argument("--quick", action="store_true",
                   help=f"tiny: {QUICK_ROWS} rows, 1 epoch each (2 for the peers), no PyTorch, "
                        "scikit-learn or memory run unless asked, a table of 2 batch sizes "
                        "and 1 more width")
    p.add_argument("--torch", action=argparse.BooleanOptionalAction,
                   help="compare with PyTorch (default: yes, except with --quick)")
    p.add_argument("--sklearn", action=argparse.BooleanOptionalAction,
                   help="compare with scikit-learn (default: yes, except with --quick)")
    p.add_argument("--omp-wait", choices=OMP_WAITS, default="default",
                   help="how PyTorch's OpenMP threads wait: libgomp's default, which spins "
                        "(the default), or passive (OMP_WAIT_POLICY=PASSIVE): quicker beside "
                        "NumPy work, slower for a small network (docs/record.md)")
    p.add_argument("--peer-threads", type=int, default=0,
                   help="threads of PyTorch and of scikit-learn's BLAS: n, or 0 (the default) "
                        "to follow the load as main.py's THREADS = 0 does ours")
    p.add_argument("--memory", action=argparse.BooleanOptionalAction,
                   help="measure the peak RSS of python main.py (default: yes, except with --quick)")
    p.add_argument("--mem-epochs", type=int,
                   help="EPOCHS for that child run (default: main.py's own)")
    p.add_argument("--table", action=argparse.BooleanOptionalAction, default=True,
                   help="the table over batch sizes and widths (default: yes)")
    p.add_argument("--table-epochs", type=int, help="timed epochs per table row (default 3)")
    p.add_argument("--table-rows", type=int, help="use only N training rows for the table")
    p.add_argument("--race", action=argparse.BooleanOptionalAction, default=True,
                   help="the peers trained side by side, and the time to accuracy (default: yes)")
    p.add_argument("--race-epochs", type=int,
                   help="epochs of each peer (default: main.py's EPOCHS; 2 with --quick)")
    p.add_argument("--threads", action=argparse.BooleanOptionalAction, default=True,
                   help="the table of BLAS threads under load (default: yes)")
    p.add_argument("--threads-epochs", type=int,
                   help="timed epochs per cell of that table (default 5)")
    p.add_argument("--live", action=argparse.BooleanOptionalAction, default=False,
                   help="the epoch with the live page (--LIVE=True) open in headless Chromium, "
                        "against the epoch without (default: no; needs chromium and Playwright)")
    p.add_argument("--live-rounds", type=int, default=5,
                   help=f"rounds of {LIVE_BLOCK} epochs without the page, then {LIVE_BLOCK} with "
                        "it (default 5)")
    p.add_argument("--hogs", type=int, nargs="+", default=[1],
                   help="numbers of competing busy processes to try (default: 1)")
    args = p.parse_args(argv)
    for name in ("rows", "epochs", "mem_epochs", "table_epochs", "table_rows", "race_epochs",
                 "threads_epochs", "live_rounds"):
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0 or args.peer_threads < 0 or min(args.hogs) < 1:
        p.error("--warmup and --peer-threads must be at least 0, --hogs at least 1")
    defaults = {"rows": QUICK_ROWS if args.quick else None, "epochs": 1 if args.quick else 5,
                "table_epochs": 1 if args.quick else 3, "torch": not args.quick,
                "sklearn": not args.quick, "memory": not args.quick,
                "race_epochs": 2 if args.quick else None,
                "threads_epochs": 1 if args.quick else 5}
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


def blas_pools():
    """threadpoolctl's description of the BLAS libraries loaded (NumPy's first)."""
    return [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]


def blas_threads():
    """How many threads NumPy's BLAS uses by default (one per usable CPU if none is found)."""
    pools = blas_pools()
    return pools[0]["num_threads"] if pools else usable_cpus()


def unpinned_kernel():
    """The OpenBLAS kernel a child Python picks without OPENBLAS_CORETYPE, or a reason."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    code = ("import numpy, threadpoolctl; print(next((p.get('architecture') for p in "
            "threadpoolctl.threadpool_info() if p['user_api'] == 'blas'), None))")
    try:
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError):
        return "unknown (the child failed)"
    return done.stdout.strip()


def blas_lines():
    """The BLAS NumPy runs on: library, version, kernel (and whether pinned), threads."""
    lines = []
    for p in blas_pools():
        lines.append(f"BLAS          {p['internal_api']} {p['version']}, kernel "
                     f"{p.get('architecture')}, {p['num_threads']} threads, "
                     f"{p.get('threading_layer')} ({Path(p['filepath']).name})")
    if not lines:
        lines.append("BLAS          none found by threadpoolctl")
    pin = os.environ.get("OPENBLAS_CORETYPE")
    if pin:
        lines.append(f"              the kernel is pinned by OPENBLAS_CORETYPE={pin} in the "
                     f"environment; unpinned, OpenBLAS would pick {unpinned_kernel()} here")
    else:
        lines.append("              the kernel is OpenBLAS's own choice for this CPU "
                     "(OPENBLAS_CORETYPE is not set)")
    return lines


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


def machine_lines():
    """The lines that say what machine and software the figures come from."""
    now = datetime.datetime.now(datetime.UTC).astimezone()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"date          {now.isoformat(timespec='seconds')}",
        (f"cpu           {os.cpu_count()} cpus ({usable_cpus()} usable), "
         f"{cpu_model()}"),
        f"python        {platform.python_version()}, numpy {np.__version__}",
        *blas_lines(),
        f"load average  {load} (1, 5, 15 min) at the start; other work now: {others_now()}",
    ]


def omp_policy():
    """How PyTorch's OpenMP threads wait (import_peer's policy), as text."""
    return (f"OMP_WAIT_POLICY={torch_omp_wait}" if torch_omp_wait
            else "OMP_WAIT_POLICY not set (libgomp's default: threads spin a while)")


def others_now(seconds=1.0):
    """CPUs' worth of work by other processes over the next `seconds`, as text."""
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    try:
        busy, own, start = machine.busy_cpu_seconds(cpus), time.process_time(), time.perf_counter()
        time.sleep(seconds)
        busy2, own2 = machine.busy_cpu_seconds(cpus), time.process_time()
    except (OSError, ValueError):
        return "unknown (no /proc/stat)"
    others = (busy2 - busy - (own2 - own)) / (time.perf_counter() - start)
    return f"{max(others, 0):.2f} CPUs busy (from /proc/stat, over {seconds:.0f} s)"


# ----------------------------------------------------------------------------
# data and settings


def default_config():
    """main.py's settings as main.main sees them with no overrides."""
    return dict(main.DEFAULTS)


def recipe_config(path):
    """main.py's settings with a recipe file applied (its printout kept quiet)."""
    with contextlib.redirect_stdout(io.StringIO()):
        return settings.configure(main.DEFAULTS, [str(path)])


def plain(c):
    """c like for like with a peer that has no schedule and no augmentation.

    A constant learning rate instead of the schedule, no shifts, rotations or
    scalings; everything else (layers, batch, optimiser, rate) kept.
    """
    return {**c, "SCHEDULE": "constant", "WARMUP_EPOCHS": 0.0,
            **{key: type(c[key])(0) for key in AUGMENT_KEYS if key in c}}


def load_training_rows(path, c, rows):
    """Load the CSV three times (timing each), and split it as main.py does.

    Returns (X_train, y_train, X_val, y_val, load_seconds, n_file, n_used):
    the uint8 pixels and labels main.train would get (after holding out
    VAL_FRACTION with the seed data.load_data uses), the seconds of each
    load, the rows in the file and the rows used (the first `rows`, if given).
    """
    seconds = []
    for _ in range(3):
        start = time.perf_counter()
        X, y = data.load_csv(path, c["LAYERS"][-1] - 1)
        seconds.append(time.perf_counter() - start)
    if y is None:
        raise data.InputError(f"{path}: needs a 'label' column to train on")
    check_columns(path, X, c["LAYERS"][0])
    n_file = len(X)
    if rows:
        X, y = X[:rows], y[:rows]
    split = data.split_validation(X, y, c["VAL_FRACTION"], np.random.default_rng(c["SEED"]))
    return (*split, seconds, n_file, len(X))


def check_columns(path, X, n_inputs):
    """Raise InputError (one line) unless X has the network's n_inputs pixel columns."""
    if X.shape[1] != n_inputs:
        raise data.InputError(f"{path}: has {X.shape[1]} pixel columns but the network "
                              f"takes {n_inputs} (LAYERS[0])")


def load_test_rows(path, c):
    """The test CSV's uint8 pixels and labels, checked: labelled, the network's columns."""
    X_test, y_test = data.load_csv(path, c["LAYERS"][-1] - 1)
    if y_test is None:
        raise data.InputError(f"{path}: needs a 'label' column to score against")
    check_columns(path, X_test, c["LAYERS"][0])
    return X_test, y_test


# ----------------------------------------------------------------------------
# what is timed: each maker returns a Trainer whose epoch() runs one epoch
# and returns its status ("ok", "diverged"), and whose accuracy(X, y) scores
# it on uint8 rows, untimed. threads() says how many BLAS threads it used.

Trainer = collections.namedtuple("Trainer", "epoch accuracy threads epochs",
                                 defaults=(None,))


def augmentation(c, on=True):
    """What main.train passes utils.train_epoch after lr_at (a function, or None)."""
    return augment.augmentation(c) if on else None


def augments(c):
    """Whether main.py's settings augment the training batches."""
    return any(c.get(key) for key in AUGMENT_KEYS)


def thread_policy(setting):
    """machine.BlasThreads(setting), a Counter of its threads per epoch, and a describer.

    The describer says what the threads were ("2" for a fixed setting, or
    for THREADS = 0 how many epochs ended with how many threads) and, with
    reset=True, starts counting anew.
    """
    policy = machine.BlasThreads(setting)
    used = collections.Counter()

    def describe(reset=False):
        counts = ", ".join(f"{n} in {k}" for n, k in sorted(used.items(), reverse=True))
        text = str(setting) if setting else f"chosen from the load: {counts or '-'}"
        if reset:
            used.clear()
        return text

    return policy, used, describe


def our_trainer(c, layers, batch_size, X, y, augment=True, batch_norm=None, probe=None,
                looked=None, watcher=None, X_val=None, y_val=None):
    """utils.train_epoch, set up and called exactly as main.train does.

    main.setup builds the params, optimiser state, schedule and options;
    machine.BlasThreads(c["THREADS"]) sets the BLAS threads at the start of
    each epoch, as main.train does at the start of a run. augment=False leaves
    out main.py's augmentation (for the floor and PyTorch's plain epoch);
    batch_norm True or False overrides main.py's BATCH_NORM. probe, the
    (X, y) of diagnostics.probe, adds what main.train does around each epoch
    for the per-layer statistics (a copy of the weights before it,
    diagnostics.layer_stats after it); their seconds go to the list looked.
    watcher, a live.Live, is called as main.train calls its watchers: begin
    (with X_val, y_val), step after every batch, epoch after every epoch
    (with the statistics' record, when there is a probe).
    """
    rng = np.random.default_rng([c["SEED"], 1])
    c = {**c, "BATCH_SIZE": batch_size, "LAYERS": list(layers),
         "BATCH_NORM": c["BATCH_NORM"] if batch_norm is None else batch_norm}
    params, lr_at = main.setup(c, len(X), rng)
    state, options = utils.init_state(params, c["OPTIMISER"]), settings.step_options(c)
    options["stats"] = utils.init_stats(params)
    augment_with = augmentation(c, augment)
    threads, used, describe = thread_policy(c["THREADS"])

    history = {key: [] for key in (*main.HISTORY, "layers", "diagnosis")}
    if watcher is not None:
        watcher.begin({"config": c, "label": "", "folder": "", "params": params,
                       "stats": options["stats"], "history": history, "stop": None,
                       "n_train": len(X), "steps_per_epoch": -(-len(X) // batch_size),
                       "X_val": X_val, "y_val": y_val, "epochs": c["EPOCHS"]})

    def between_batches(done, total, loss):
        if watcher is not None:
            watcher.step(done, total, loss)
        return False

    def epoch():
        threads.begin()
        try:
            start = time.perf_counter()
            before = diagnostics.weights_of(params) if probe else None
            seconds = time.perf_counter() - start
            result = utils.train_epoch(params, state, X, y, batch_size, rng, lr_at,
                                       augment_with, between_batches, **options)
            if probe:
                start = time.perf_counter()
                record = diagnostics.layer_stats(params, *probe, c["ACTIVATION"],
                                                 options["stats"], before,
                                                 lr_at(state["step"] - 1), c["OPTIMISER"],
                                                 c["MOMENTUM"], 1)
                looked.append(seconds + time.perf_counter() - start)
                history["layers"].append(record)
            if watcher is not None:
                for key, value in zip(main.HISTORY, (len(history["epoch"]) + 1, result["loss"],
                                                     result["acc"], math.nan, math.nan,
                                                     lr_at(state["step"] - 1), 0.0, 0)):
                    history[key].append(value)
                watcher.epoch(history)
        finally:
            used[threads.threads] += 1
            threads.end()
        if not all(np.isfinite(p).all() for layer in params for p in layer.values()):
            return "diverged"
        return result["status"]

    def accuracy(X_eval, y_eval):  # with the BLAS threads of training, as main.train scores
        threads.begin()
        try:
            return utils.evaluate(params, X_eval, y_eval, c["ACTIVATION"],
                                  stats=options["stats"])[1]
        finally:
            threads.end()

    return Trainer(epoch, accuracy, describe, c["EPOCHS"])


def matmul_floor_epoch(layers, batch_size, n_rows, threads_setting=0, seed=0):
    """The matrix products of one epoch alone, on preallocated float32 operands.

    Per batch, as utils.forward and utils.backward compute them: A_prev @ W
    for every layer, then from the last layer down A_prev.T @ dZ for every
    layer and dZ @ W.T for every layer but the first. There are as many
    batches as an epoch of n_rows has, the last one partial when the batch
    size does not divide n_rows. Every product writes into a preallocated
    output (np.matmul's out=), so nothing is allocated while timed. The BLAS
    threads follow main.py's THREADS as ours do (threads_setting).
    """
    rng = np.random.default_rng(seed)
    threads = machine.BlasThreads(threads_setting)

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
        threads.begin()
        for n in sizes:
            ops = operands[n]
            for W, o in zip(weights, ops):
                np.matmul(o["A"], W, out=o["Z"])
            for l in range(len(weights) - 1, -1, -1):
                o = ops[l]
                np.matmul(o["A"].T, o["dZ"], out=o["dW"])
                if l:
                    np.matmul(o["dZ"], weights[l].T, out=o["dA"])
        threads.end()
        return "ok"

    return run


def matmul_flops(layers, n_rows):
    """Floating-point operations of an epoch's matrix products (2 per multiply-add)."""
    pairs = list(itertools.pairwise(layers))
    per_row = sum(n_in * n_out for n_in, n_out in pairs)
    return 2 * n_rows * (2 * per_row + sum(n_in * n_out for n_in, n_out in pairs[1:]))


def torch_trainer(torch, c, layers, batch_size, X, y, threads=0, augment=True, X_float=None):
    """The same recipe in PyTorch on the CPU, float32.

    nn.Sequential of Linear layers with main.py's activation between them,
    starting from the very weights main.setup draws for ours (same seed),
    nn.Dropout after each hidden layer at main.py's DROPOUT rates (inverted
    dropout, as ours), cross-entropy, SGD with main.py's momentum (Adam or AdamW when main.py
    uses those), the learning rate of main.setup's schedule set before every
    step, the rows in a new order every epoch (torch.randperm). With augment,
    each batch is shifted by main.py's own augmentation (NumPy, on the uint8
    rows) and then scaled to float32, as ours; without, the batches are
    gathered from X_float, the rows scaled to float32 in [0, 1] once.
    One difference remains: torch's SGD keeps v = mu v + g and steps
    p -= lr v, ours v = mu v - lr g and p += v; with a constant rate the two
    are the same, under a schedule torch applies each step's rate to the
    whole velocity. torch.set_num_threads takes machine.BlasThreads(threads)'s
    count at the start of each epoch, as ours do: a fixed number, or for 0
    what the load leaves free (on a quiet machine, torch's own default of
    one per CPU).
    """
    policy, used, describe = thread_policy(threads)
    torch.manual_seed(c["SEED"])
    rng = np.random.default_rng([c["SEED"], 1])
    params, lr_at = main.setup({**c, "BATCH_SIZE": batch_size, "LAYERS": list(layers)}, len(X),
                               rng)
    nn = torch.nn
    act = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.01), "tanh": nn.Tanh,
           "sigmoid": nn.Sigmoid}[c["ACTIVATION"]]
    modules = []
    rates = settings.dropout_rates(c["DROPOUT"], list(layers)) + [0.0]
    for layer, rate in zip(params, rates):
        W, b = layer["W"], layer["b"]
        linear = nn.Linear(*W.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W.T.copy()))
            linear.bias.copy_(torch.from_numpy(b))
        modules += [linear, act()] + ([nn.Dropout(rate)] if rate else [])
    model = nn.Sequential(*modules[:-1])
    opt = make_torch_optimiser(torch, c, model.parameters())
    augment_with = augmentation(c, augment)
    if not augment_with:  # batches gathered from the rows scaled once
        X_all = torch.from_numpy(X_float if X_float is not None else utils.normalise(X))
    y_all = torch.from_numpy(np.array(y))  # a writable copy: torch wants one
    loss_fn = nn.CrossEntropyLoss()
    step = [0]

    def epoch():
        policy.begin()
        torch.set_num_threads(policy.threads)
        model.train()
        order = torch.randperm(len(y_all))
        total_loss, correct = 0.0, 0
        for start in range(0, len(y_all), batch_size):
            idx = order[start:start + batch_size]
            if augment_with:
                xb = torch.from_numpy(utils.normalise(augment_with(X[idx.numpy()], rng)))
            else:
                xb = X_all[idx]
            yb = y_all[idx]
            for group in opt.param_groups:
                group["lr"] = lr_at(step[0])
            logits = model(xb)
            loss = loss_fn(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step[0] += 1
            total_loss += loss.item() * len(idx)
            correct += int((logits.detach().argmax(dim=1) == yb).sum())
            if torch.get_num_threads() != policy.threads:
                torch.set_num_threads(policy.threads)
        used[policy.threads] += 1
        policy.end()
        return "ok" if math.isfinite(total_loss) else "diverged"

    def accuracy(X_eval, y_eval):
        model.eval()
        with torch.no_grad():
            logits = model(torch.from_numpy(utils.normalise(X_eval)))
        return float((logits.argmax(dim=1).numpy() == y_eval).mean())

    return Trainer(epoch, accuracy, describe, c["EPOCHS"])


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


def sklearn_trainer(sklearn_mlp, c, layers, X_float, y, threads, own_defaults=False):
    """scikit-learn's MLPClassifier, one partial_fit (one epoch) per call, float32.

    Like for like (own_defaults=False): main.py's hidden layers, ReLU, SGD
    with classic momentum (nesterovs_momentum=False: v = mu v - lr g, as
    ours), main.py's learning rate held constant (MLPClassifier has no
    cosine schedule) and batch size, no L2 penalty (alpha=0; its default is
    1e-4), the rows shuffled every epoch. With its own defaults: the same
    layers, and otherwise MLPClassifier() as it comes (Adam, lr 1e-3,
    batches of 200, alpha 1e-4). Either way it gets the rows as float32 in
    [0, 1] and computes in float32 (it keeps float32 input as float32), and
    initialises its weights its own way (Glorot uniform, ours He normal).
    The random_state is a np.random.RandomState, not a seed: partial_fit
    re-seeds from an int on every call, which would shuffle every epoch alike.
    Its matrix products run on NumPy's BLAS, with the threads that
    machine.BlasThreads(threads) sets at the start of each epoch, as for
    ours: a fixed number, or for 0 what the load
    leaves free (on a quiet machine, NumPy's own default of one per CPU).
    """
    policy, used, describe = thread_policy(threads)
    hidden = tuple(layers[1:-1])
    state = np.random.RandomState(c["SEED"])
    if own_defaults:
        clf = sklearn_mlp(hidden_layer_sizes=hidden, random_state=state)
    else:
        clf = sklearn_mlp(hidden_layer_sizes=hidden, activation=c["ACTIVATION"].replace(
                              "sigmoid", "logistic"), solver="sgd",
                          learning_rate="constant", learning_rate_init=c["LEARNING_RATE"],
                          momentum=c["MOMENTUM"], nesterovs_momentum=False,
                          batch_size=c["BATCH_SIZE"], alpha=0.0, shuffle=True,
                          random_state=state)
    classes = np.arange(layers[-1])

    def epoch():
        policy.begin()
        try:
            clf.partial_fit(X_float, y, classes=classes)
        except ValueError:  # "Solver produced non-finite parameter weights"
            return "diverged"
        finally:
            used[policy.threads] += 1
            policy.end()
        return "ok" if math.isfinite(clf.loss_) else "diverged"

    def accuracy(X_eval, y_eval):
        return float(np.mean(clf.predict(utils.normalise(X_eval)) == y_eval))

    return Trainer(epoch, accuracy, describe, c["EPOCHS"])


OMP_WAITS = ("passive", "default")
torch_omp_wait = None  # the OMP_WAIT_POLICY torch was imported under, for the figures' header


def import_peer(name, omp_wait="default"):
    """(module, None) if PyTorch or scikit-learn's MLPClassifier imports, else (None, why).

    omp_wait -- for PyTorch: "passive" imports it with OMP_WAIT_POLICY=PASSIVE
    (unless the environment sets a policy already, which wins), so its
    OpenMP threads sleep between parallel regions instead of spinning;
    "default" leaves libgomp's own policy. The policy is read once, when
    torch's libgomp loads: only this function should import torch. The
    environment is restored after the import, so children and other
    libraries see it as it was; torch_omp_wait records the policy used.
    On two cores, spinning threads take a core from OpenBLAS's threads and
    from the NumPy work between torch's calls, while sleeping ones wake
    late for the many short parallel regions of a small network:
    docs/record.md measures both.
    """
    global torch_omp_wait
    try:
        if name == "torch":
            before = os.environ.get("OMP_WAIT_POLICY")
            if omp_wait == "passive" and before is None:
                os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
            try:
                torch_omp_wait = os.environ.get("OMP_WAIT_POLICY")
                import torch
            finally:
                if before is None:
                    os.environ.pop("OMP_WAIT_POLICY", None)
            return torch, None
        from sklearn.neural_network import MLPClassifier
        return MLPClassifier, None
    except ImportError as e:
        return None, f"not installed ({e}); pip install -r requirements-bench.txt"


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


def race(trainers, epochs, X_test, y_test, settle=SETTLE_SECONDS, X_val=None, y_val=None,
         log=None, after_round=None):
    """Train several contestants side by side, epoch by epoch, scoring each after every epoch.

    trainers -- a dict of name: Trainer; each runs min(epochs, its own
    epochs) epochs, or fewer if one diverges. Every round times one epoch of
    each in turn (after a pause of `settle` seconds), then scores it on the
    test rows, untimed; the scores are the benchmark's and choose nothing.
    With X_val, the seconds ours would also spend scoring its validation
    rows (as main.train does after every epoch) are timed apart, for the
    contestants named "ours...".
    log -- None, or a dict to fill as the race goes, so that a caller keeps
    the epochs done if the race is interrupted (Ctrl-C)
    after_round -- None, or a function (epoch, epochs, log) called after
    every round, epoch counted from 1 (progress lines)
    Returns a dict of name: {"seconds": [...], "acc": [...], "val_seconds":
    [...], "status": "ok" or the status that ended it}.
    """
    log = {} if log is None else log
    log.update({name: {"seconds": [], "acc": [], "val_seconds": [], "status": "ok"}
                for name in trainers})
    for epoch in range(epochs):
        for name, trainer in trainers.items():
            entry = log[name]
            if entry["status"] != "ok" or epoch >= min(epochs, trainer.epochs or epochs):
                continue
            time.sleep(settle)
            start = time.perf_counter()
            status = trainer.epoch()
            entry["seconds"].append(time.perf_counter() - start)
            if status != "ok":
                entry["status"] = status
                continue
            if X_val is not None and len(X_val) and name.startswith("ours"):
                start = time.perf_counter()
                trainer.accuracy(X_val, y_val)
                entry["val_seconds"].append(time.perf_counter() - start)
            entry["acc"].append(trainer.accuracy(X_test, y_test))
        if after_round is not None:
            after_round(epoch + 1, epochs, log)
    return log


def time_to(seconds, accuracies, target):
    """The training seconds until an accuracy first reached target, and that epoch.

    seconds[i] and accuracies[i] belong to epoch i + 1; the seconds are
    summed up to and including the first epoch whose accuracy is >= target.
    Returns (seconds, epoch), or None if no epoch reached it.
    """
    for epoch, accuracy in enumerate(accuracies, start=1):
        if accuracy >= target:
            return sum(seconds[:epoch]), epoch
    return None


def competing(n):
    """Start n busy processes (each one CPU-bound Python loop, unpinned); return them."""
    return [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(n)]


def stop(processes):
    """Kill and reap processes started by competing()."""
    for p in processes:
        p.kill()
    for p in processes:
        p.wait()


def spread(seconds):
    """How far the slowest run is above the fastest, as a fraction."""
    return max(seconds) / min(seconds) - 1 if min(seconds) > 0 else math.nan


def describe(seconds):
    """The median, min and max of a list of seconds, as one short text."""
    return (f"{statistics.median(seconds):.3f} s (min {min(seconds):.3f}, "
            f"max {max(seconds):.3f}, n={len(seconds)})")


def peak_rss_of_main(csv_path, epochs):
    """Run `python main.py` as a child; return its peak RSS in MB, exit code and seconds.

    Its weights and pictures go to a temporary folder (--RUNS_DIR), so the
    project's own are left alone. The peak comes from
    getrusage(RUSAGE_CHILDREN), the largest of the children waited for so
    far: this must be the first child of the process to be exact, which is
    checked (ru_maxrss is in KB on Linux).
    Returns (mb, returncode, seconds, exact).
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with tempfile.TemporaryDirectory(prefix="bench-main-") as tmp:
        argv = [sys.executable, "main.py", f"--TRAIN_CSV={csv_path}", f"--RUNS_DIR={tmp}"]
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


def headline_epoch(args, c, X, y, threads, torch, probe=None, looked=None):
    """Sections 1-3: our epoch, its matmul floor and PyTorch's, interleaved.

    When main.py augments its batches, our epoch is also timed without the
    augmentation, like for like with PyTorch and the floor; with a recipe
    (--recipe) that augments, PyTorch's is also timed with it ("PyTorch +
    augm.": augment.py's batches, as ours). With a probe
    (section 8), also with the per-layer statistics, whose own seconds go
    to the list looked.
    Returns a dict of name: (seconds, status), and one of name: the threads
    each used (the floor's follow main.py's THREADS, as ours).
    """
    layers, batch = c["LAYERS"], c["BATCH_SIZE"]
    trainers = {"ours": our_trainer(c, layers, batch, X, y)}
    if probe is not None:
        trainers["ours + stats"] = our_trainer(c, layers, batch, X, y, probe=probe,
                                                    looked=looked)
    if augments(c):
        trainers["ours, no augm."] = our_trainer(c, layers, batch, X, y, augment=False)
    bn = "ours, no BN" if c["BATCH_NORM"] else "ours, BN"
    trainers[bn] = our_trainer(c, layers, batch, X, y, batch_norm=not c["BATCH_NORM"])
    if torch is not None:
        trainers["PyTorch"] = torch_trainer(torch, c, layers, batch, X, y, threads,
                                            augment=False)
        if args.recipe and augments(c):  # the same batches as ours: augment.py's, in NumPy
            trainers["PyTorch + augm."] = torch_trainer(torch, c, layers, batch, X, y, threads)
    runs = {name: t.epoch for name, t in trainers.items()}
    runs["matmul floor"] = matmul_floor_epoch(layers, batch, len(X), c["THREADS"])
    for name in ("PyTorch", "PyTorch + augm."):
        if name in runs:
            runs[name] = runs.pop(name)  # shown last, as before
    timed = time_interleaved(runs, args.epochs, args.warmup, args.settle)
    return timed, {name: t.threads() for name, t in trainers.items()}


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
        timed = time_interleaved({"ours": our_trainer(c, layers, bs, X, y).epoch,
                                  "floor": matmul_floor_epoch(layers, bs, len(X), c["THREADS"])},
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
             "SCHEDULE", "WEIGHT_DECAY", "DROPOUT", *(k for k in AUGMENT_KEYS if k in c),
             *(["ELASTIC_SIGMA"] if c.get("ELASTIC_ALPHA") else []),
             "THREADS"]
    whose = f"{args.recipe}'s settings" if args.recipe else "main.py's defaults"
    print(f"{whose}: " + ", ".join(f"{k} = {c[k]}" for k in shown))


def report_epochs(args, c, X, y, threads, torch, torch_skipped, probe=None):
    """Sections 1-3 and 8: print the epoch timings; return the headline's first part."""
    print(f"\n... timing {args.warmup} warm-up + {args.epochs} epochs each, interleaved",
          flush=True)
    looked = []
    timed, runs_threads = headline_epoch(args, c, X, y, threads, torch, probe, looked)
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
    print(f"ours' BLAS threads (THREADS = {c['THREADS']}): {runs_threads['ours']}")
    flops = matmul_flops(c["LAYERS"], len(X))
    print(f"matmul floor: {flops / 1e9:.2f} GFLOP per epoch, "
          f"{flops / median['matmul floor'] / 1e9:.1f} GFLOP/s")
    if torch is not None:
        print(f"PyTorch {torch.__version__}, threads: {runs_threads['PyTorch']}, "
              "no augmentation")
        plain = " without augmentation" if "ours, no augm." in median else ""
        torch_part = (f"{ours / median['PyTorch']:.2f}x PyTorch{plain} "
                      f"({median['PyTorch']:.2f} s)")
    else:
        print(f"PyTorch skipped: {torch_skipped}")
        torch_part = "PyTorch skipped"
    part = f"epoch {ours:.2f} s = {ours / median['matmul floor']:.2f}x matmul floor, {torch_part}"
    if "PyTorch + augm." in median:
        print(f"PyTorch + augm.: the same, each batch distorted by augment.py (NumPy) as ours; "
              f"threads: {runs_threads['PyTorch + augm.']}; {omp_policy()}")
        part += (f"; with the same augmentation, {ours / median['PyTorch + augm.']:.2f}x "
                 f"PyTorch ({median['PyTorch + augm.']:.2f} s)")
    if "ours, no augm." in median:
        plain_s = median["ours, no augm."]
        part += (f"; ours without augmentation {plain_s:.2f} s = "
                 f"{plain_s / median['matmul floor']:.2f}x floor"
                 + (f", {plain_s / median['PyTorch']:.2f}x PyTorch" if torch else ""))
    other = "ours, no BN" if c["BATCH_NORM"] else "ours, BN"
    with_bn, without_bn = (ours, median[other]) if c["BATCH_NORM"] else (median[other], ours)
    mins = ((best, min(timed[other][0])) if c["BATCH_NORM"] else (min(timed[other][0]), best))
    print(f"batch normalisation (BATCH_NORM = True) on every hidden layer: {with_bn:.3f} s per "
          f"epoch against {without_bn:.3f} s without, {with_bn / without_bn:.2f}x "
          f"({mins[0] / mins[1]:.2f}x of the fastest epochs)")
    part += f"; batch norm {with_bn / without_bn:.2f}x per epoch"
    cost = checkpoint_seconds(c)
    print(f"writing a checkpoint of this network (runs.save_checkpoint: weights, velocities, "
          f"best weights, fsync): median {cost * 1000:.0f} ms of 5, {cost / ours:.1%} of our "
          "median epoch")
    part += f"; checkpoint {cost / ours:.1%} of an epoch"
    if probe is not None:
        with_stats = median["ours + stats"]
        alone = statistics.median(looked[args.warmup:] or looked)
        paired = statistics.median(a / b for a, b in zip(timed["ours + stats"][0],
                                                         timed["ours"][0]))
        print(f"per-layer statistics (diagnostics.layer_stats on {len(probe[0])} validation "
              f"rows, and the copy of the weights before the epoch, as main.train reads them "
              f"after every epoch): {with_stats:.3f} s per epoch against {ours:.3f} s without, "
              f"{with_stats / ours:.3f}x ({min(timed['ours + stats'][0]) / best:.3f}x of "
              f"the fastest epochs, {paired:.3f}x the median of each round's ratio); the "
              f"statistics alone: median {alone * 1000:.1f} ms, {alone / ours:.1%} of our "
              "median epoch")
        part += f"; statistics {alone / ours:.1%} of an epoch ({paired:.3f}x epoch, paired)"
    return part


def checkpoint_seconds(c, repeats=5):
    """The median seconds runs.save_checkpoint takes for main.py's network after a step."""
    params, _ = main.setup(c, 1, np.random.default_rng(0))
    state = utils.init_state(params, c["OPTIMISER"])
    checkpoint = {"settings": runs.recorded(c), "epoch": 1, "params": params, "state": state,
                  "stats": utils.init_stats(params), "rng": np.random.default_rng(0).bit_generator.state,
                  "history": {}, "seconds": 0.0, "threads": 1,
                  "best": {"params": utils.copy_params(params), "stats": None, "epoch": 1}}
    seconds = []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(repeats):
            start = time.perf_counter()
            runs.save_checkpoint(folder, checkpoint)
            seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


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


def contestants(c, X, y, X_float, threads, torch, mlp, epochs):
    """Section 6's runs: name -> (Trainer, what recipe it follows)."""
    layers, batch = c["LAYERS"], c["BATCH_SIZE"]
    recipe = (f"main.py's: {c['OPTIMISER']} {c['MOMENTUM']}, lr {c['LEARNING_RATE']} "
              f"{c['SCHEDULE']}, batch {batch}, shifts of {c['MAX_SHIFT']} px")
    flat = plain(c)
    like = f"constant lr {c['LEARNING_RATE']}, {c['OPTIMISER']} {c['MOMENTUM']}, batch {batch}, no augm."
    cs = {"ours": (our_trainer(c, layers, batch, X, y), recipe)}
    if FAST_RECIPE.exists():
        fast = recipe_config(FAST_RECIPE)
        cs["ours, recipes/fast.py"] = (
            our_trainer(fast, fast["LAYERS"], fast["BATCH_SIZE"], X, y),
            "recipes/fast.py: " + ", ".join(f"{k} = {fast[k]}" for k in fast
                                            if fast[k] != c[k]))
    if torch is not None:
        cs["PyTorch"] = (torch_trainer(torch, c, layers, batch, X, y, threads), recipe
                         + " (torch's momentum form)")
    cs["ours, plain"] = (our_trainer(flat, layers, batch, X, y), like)
    if torch is not None:
        cs["PyTorch, plain"] = (torch_trainer(torch, flat, layers, batch, X, y, threads,
                                              augment=False, X_float=X_float), like)
    if mlp is not None:
        cs["scikit-learn, plain"] = (sklearn_trainer(mlp, c, layers, X_float, y, threads),
                                     like + ", alpha 0")
        cs["scikit-learn, defaults"] = (sklearn_trainer(mlp, c, layers, X_float, y, threads, True),
                                        "MLPClassifier's own: adam, lr 0.001, batch 200, alpha 1e-4")
    return {name: (t._replace(epochs=min(epochs, t.epochs)), r) for name, (t, r) in cs.items()}


def format_time_to(found, epochs):
    """A cell of the time-to-accuracy table: '7.9 s (epoch 12)' or 'not reached in N epochs'."""
    return f"{found[0]:.1f} s (epoch {found[1]})" if found else f"not reached in {epochs} epochs"


def report_race(args, c, X, y, X_val, y_val, X_test, y_test, threads, peers, skipped):
    """Section 6: the peers side by side, and the time to accuracy; return the headline part."""
    torch, mlp = peers
    epochs = args.race_epochs or c["EPOCHS"]
    X_float = utils.normalise(X) if (torch or mlp) else None  # the peers' copy, made once
    entries = contestants(c, X, y, X_float, threads, torch, mlp, epochs)
    print(f"\n... training {len(entries)} runs side by side for up to {epochs} epochs, one "
          "epoch of each in turn, scoring each on the test set after every epoch", flush=True)
    before = load_sample()
    log = race({name: t for name, (t, _) in entries.items()}, epochs, X_test, y_test,
               args.settle, X_val, y_val)
    others = load_since(before)
    ours = statistics.median(log["ours"]["seconds"])
    print(f"\npeers, {len(X)} training rows, [{', '.join(map(str, c['LAYERS']))}], float32, "
          f"{len(y_test)} test rows; ours / this = ratio of median epochs; training s = the sum "
          f"of the epochs' training passes, no scoring; other work while they ran: {others} CPUs "
          "busy besides this process (/proc/stat)")
    print("\n| run | recipe | BLAS threads | epochs | median epoch s | worst epoch s "
          "| ours / this | test acc at the end | training s |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, (trainer, recipe) in entries.items():
        entry = log[name]
        secs = entry["seconds"]
        acc = f"{entry['acc'][-1]:.2%}" if entry["acc"] else "-"
        note = "" if entry["status"] == "ok" else f" ({entry['status']})"
        print(f"| {name}{note} | {recipe} | {trainer.threads()} | {len(secs)} "
              f"| {statistics.median(secs):.3f} | {max(secs):.3f} "
              f"| {ours / statistics.median(secs):.2f}x | {acc} | {sum(secs):.1f} |")
    val = log["ours"]["val_seconds"]
    if val:
        print(f"(main.py also scores its {len(X_val)} validation rows after every epoch: "
              f"{statistics.median(val):.3f} s median here, not counted above)")
    for name, why in skipped.items():
        if why:
            print(f"{name} skipped: {why}")
    print(f"\ntime to accuracy: training seconds until the test accuracy, scored after every "
          f"epoch, first reached {' and '.join(f'{t:.1%}' for t in TARGETS)}")
    print(f"\n| run | to {TARGETS[0]:.1%} | to {TARGETS[1]:.1%} | ours / this, to {TARGETS[0]:.1%} |")
    print("| --- | ---: | ---: | ---: |")
    first = {name: time_to(e["seconds"], e["acc"], TARGETS[0]) for name, e in log.items()}
    for name, entry in log.items():
        cells = [format_time_to(time_to(entry["seconds"], entry["acc"], t), len(entry["acc"]))
                 for t in TARGETS]
        ratio = (f"{first['ours'][0] / first[name][0]:.2f}x" if first["ours"] and first[name]
                 else "-")
        print(f"| {name} | {cells[0]} | {cells[1]} | {ratio} |")
    parts = []
    for name in ("PyTorch", "scikit-learn, plain", "scikit-learn, defaults"):
        if name in log:
            ratio_t = (f"{first['ours'][0] / first[name][0]:.2f}x" if first["ours"] and first[name]
                       else "n/a")
            parts.append(f"/ {name} {ours / statistics.median(log[name]['seconds']):.2f}x per "
                         f"epoch, {ratio_t} to {TARGETS[0]:.0%}")
    to98 = format_time_to(first["ours"], len(log["ours"]["acc"]))
    return f"ours to {TARGETS[0]:.0%} test: {to98}" + ("; ours " + ", ".join(parts) if parts else "")


def report_threads(args, c, X, y):
    """Section 7: ours under each thread policy, quiet and beside busy processes."""
    cpus = usable_cpus()
    policies = {f"{n}": n for n in sorted({1, cpus})}
    policies["THREADS=0 (default)"] = 0
    trainers = {name: our_trainer({**c, "THREADS": n}, c["LAYERS"], c["BATCH_SIZE"], X, y)
                for name, n in policies.items()}
    conditions = [0, *args.hogs]
    results, others, used = {}, {}, {}
    print(f"\n... timing {args.threads_epochs} epochs of ours per thread policy, interleaved, "
          f"with {', then '.join(str(n) for n in conditions)} competing busy process(es)",
          flush=True)
    for hogs in conditions:
        processes = competing(hogs)
        try:
            before = load_sample()
            timed = time_interleaved({n: t.epoch for n, t in trainers.items()},
                                     args.threads_epochs, args.warmup if hogs == 0 else 0,
                                     args.settle)
            others[hogs] = load_since(before)
        finally:
            stop(processes)
        results[hogs] = {name: secs for name, (secs, _) in timed.items()}
        used[hogs] = trainers["THREADS=0 (default)"].threads(reset=True)
    print(f"\nBLAS threads under load: ours ({c['LAYERS']}, batch {c['BATCH_SIZE']}, "
          f"{len(X)} rows, as main.py trains), median and worst of {args.threads_epochs} epochs; "
          "a competing process is one unpinned CPU-bound Python loop (like a busy browser tab), "
          "started by the benchmark; 'as is' = the machine with none started (see the "
          "other work measured below); 'worst / best' = the worst epoch beside the busy "
          "processes / the best policy's as-is median")
    head = "| BLAS threads | as is: median s | as is: worst s |"
    rule = "| --- | ---: | ---: |"
    for hogs in conditions[1:]:
        head += (f" +{hogs} busy: median s | +{hogs} busy: worst s "
                 f"| +{hogs} busy: worst / best |")
        rule += " ---: | ---: | ---: |"
    print("\n" + head + "\n" + rule)
    ratios = {}
    best = min(statistics.median(secs) for secs in results[0].values())
    for name in policies:
        quiet = statistics.median(results[0][name])
        row = f"| {name} | {quiet:.3f} | {max(results[0][name]):.3f} |"
        for hogs in conditions[1:]:
            secs = results[hogs][name]
            ratios[name, hogs] = max(secs) / best
            row += f" {statistics.median(secs):.3f} | {max(secs):.3f} | {ratios[name, hogs]:.1f}x |"
        print(row)
    print("other work measured while each part ran (CPUs busy besides this process, from "
          "/proc/stat; the competing processes count here): "
          + ", ".join(f"{hogs} started: {others[hogs]}" for hogs in conditions))
    print("THREADS=0's threads at the end of each epoch: "
          + "; ".join(f"{hogs} started: {used[hogs]}" for hogs in conditions))
    auto = "THREADS=0 (default)"
    return (f"THREADS=0 worst epoch beside {conditions[1]} busy process(es) = "
            f"{ratios[auto, conditions[1]]:.1f}x the best as-is median "
            f"({cpus} threads: {ratios[str(cpus), conditions[1]]:.1f}x, "
            f"1 thread: {ratios['1', conditions[1]]:.1f}x)")


def children_cpu_seconds():
    """CPU seconds used so far by this process's descendants (Playwright's driver and the
    browser it started), from /proc (Linux); None elsewhere."""
    try:
        parents, ticks = {}, {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat", encoding="ascii") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except OSError:  # gone meanwhile
                    continue
                parents[int(entry)] = int(fields[1])
                ticks[int(entry)] = int(fields[11]) + int(fields[12])  # utime + stime
    except OSError:
        return None
    mine, grew = {os.getpid()}, True
    while grew:  # the children, their children, ...
        grew = False
        for pid, parent in parents.items():
            if parent in mine and pid not in mine:
                mine.add(pid)
                grew = True
    total = sum(ticks[pid] for pid in mine if pid != os.getpid())
    return total / os.sysconf("SC_CLK_TCK")


def report_live(args, c, X, y, X_val, y_val):
    """Section 9: the default epoch with the live page open in a browser, against without.

    Two trainers as main.train runs them, with the per-layer statistics;
    one has a live.Live watching it (main.py --LIVE=True). Headless Chromium
    (Debian's, driven by Playwright) shows its page, with a digit drawn on
    the pad, so the page polls the state, fetches each epoch's pictures and
    has the digit answered again as the network trains. Each round times
    LIVE_BLOCK epochs without (the browser on a blank page), then LIVE_BLOCK
    with the page open, so that an epoch's pictures, computed on the
    server's thread, fall on the next epoch as in a real run. Returns the
    headline's part, or None when the browser is missing.
    """
    import live

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("\nlive page: skipped (pip install playwright)")
        return None
    if not os.path.exists(CHROMIUM):
        print(f"\nlive page: skipped ({CHROMIUM} missing: apt-get install chromium)")
        return None
    print(f"\n... timing the epoch with the live page open in headless Chromium, "
          f"{args.live_rounds} rounds of {LIVE_BLOCK} epochs without it then {LIVE_BLOCK} with it",
          flush=True)
    probe = diagnostics.probe(X_val, y_val, X, y)
    watcher = live.Live()
    url = watcher.serve("127.0.0.1", 0)
    plain = our_trainer(c, c["LAYERS"], c["BATCH_SIZE"], X, y, probe=probe, looked=[])
    watched = our_trainer(c, c["LAYERS"], c["BATCH_SIZE"], X, y, probe=probe, looked=[],
                          watcher=watcher, X_val=X_val, y_val=y_val)
    seconds = {"without": [], "with the page": []}
    cpu = {"without": [0.0, 0.0], "with the page": [0.0, 0.0]}  # this process's, the browser's

    def timed_block(name, trainer):  # LIVE_BLOCK epochs in a row: seconds, and CPU seconds
        for _ in range(LIVE_BLOCK):
            time.sleep(args.settle)
            start, own, browser = time.perf_counter(), time.process_time(), children_cpu_seconds()
            trainer.epoch()
            seconds[name].append(time.perf_counter() - start)
            cpu[name][0] += time.process_time() - own
            cpu[name][1] += (children_cpu_seconds() or 0) - (browser or 0)

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            tab = browser.new_page(viewport={"width": 1280, "height": 900})
            for _ in range(args.warmup):
                plain.epoch()
                watched.epoch()
            for _ in range(args.live_rounds):
                tab.goto("about:blank")
                timed_block("without", plain)
                tab.goto(url)
                while not tab.locator("#loss-chart canvas").count():  # the layout settled
                    time.sleep(0.05)
                box = tab.locator("#pad").bounding_box()
                tab.mouse.move(box["x"] + 140, box["y"] + 40)  # a 1
                tab.mouse.down()
                tab.mouse.move(box["x"] + 140, box["y"] + 240, steps=10)
                tab.mouse.up()
                timed_block("with the page", watched)
                end = time.perf_counter() + 5  # the last epoch's pictures, before the blank page
                while watcher.view_cache[0] != watcher.version and time.perf_counter() < end:
                    time.sleep(0.05)
            answer = tab.inner_text("#answer").strip()
            if not answer.isdigit():
                print(f"warning: the pad was not answered ({answer!r}): the figures below "
                      "leave its cost out")
            browser.close()
    finally:
        watcher.close()
    for name, secs in seconds.items():
        print(f"epoch {name:<15} {describe(secs)}")
    ratio = statistics.median(seconds["with the page"]) / statistics.median(seconds["without"])
    mins = min(seconds["with the page"]) / min(seconds["without"])
    print(f"the live page open and polling, a digit on its pad (answered {answer}): the epoch "
          f"takes {ratio:.3f}x the epoch without it (ratio of medians; {mins:.3f}x of the fastest)")
    n = len(seconds["without"])
    (own0, browser0), (own1, browser1) = cpu["without"], cpu["with the page"]
    print(f"CPU seconds per epoch (less sensitive to other work than the wall clock): this "
          f"process {own0 / n:.3f} without, {own1 / n:.3f} with the page (training, the server's "
          f"thread); the browser and its driver {browser0 / n:.3f} without (a blank page), "
          f"{browser1 / n:.3f} with; all together {(own1 + browser1) / (own0 + browser0):.3f}x")
    return f"live page {ratio:.3f}x the epoch without"


def load_sample():
    """(wall clock, busy seconds of this process's CPUs, own CPU seconds), or None."""
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    try:
        return time.perf_counter(), machine.busy_cpu_seconds(cpus), time.process_time()
    except (OSError, ValueError):
        return None


def load_since(before):
    """CPUs' worth of work by other processes since load_sample() gave `before`, as text."""
    after = load_sample()
    if before is None or after is None:
        return "unknown"
    others = (after[1] - before[1] - (after[2] - before[2])) / (after[0] - before[0])
    return f"{max(others, 0):.2f}"


def run_benchmark(argv):
    """Measure everything asked for, print the report, and end with the headline."""
    args = parse_args(argv)
    machine.keep_freed_memory()  # as main.py does before training
    c = recipe_config(args.recipe) if args.recipe else default_config()
    settings.check(c)
    threads = blas_threads()
    peer_threads = args.peer_threads
    csv_name = Path(args.csv).name
    print("benchmark of the NumPy trainer (benchmarks/bench.py)")
    print("\n".join(machine_lines()), flush=True)
    # Memory first: getrusage's figure for children is exact only for the first one.
    rss = report_memory(args, c) if args.memory else None
    X, y, X_val, y_val, load_seconds, n_file, n_used = load_training_rows(args.csv, c, args.rows)
    X_test, y_test = load_test_rows(args.test_csv, c) if args.race else (None, None)
    report_setting(args, c, X, csv_name, load_seconds, n_file, n_used)
    skipped = {"PyTorch": "not asked for (--no-torch, or --quick without --torch)",
               "scikit-learn": "not asked for (--no-sklearn, or --quick without --sklearn)"}
    torch = mlp = None
    if args.torch:
        torch, skipped["PyTorch"] = import_peer("torch", args.omp_wait)
    if args.sklearn:
        mlp, skipped["scikit-learn"] = import_peer("sklearn")
    if mlp is not None:
        import sklearn
        print(f"scikit-learn {sklearn.__version__} (MLPClassifier, on NumPy's BLAS)")
    if torch is not None:
        config = torch.__config__.show()
        blas = config.split("BLAS_INFO=", 1)[1].split(",", 1)[0] if "BLAS_INFO=" in config else "?"
        print(f"PyTorch {torch.__version__} (its own BLAS: {blas}); {omp_policy()}")
    parts = [report_epochs(args, c, X, y, peer_threads, torch, skipped["PyTorch"],
                           diagnostics.probe(X_val, y_val, X, y))]
    if args.table:
        report_table(args, c, X, y)
    if args.race:
        parts.append(report_race(args, c, X, y, X_val, y_val, X_test, y_test, peer_threads,
                                 (torch, mlp), skipped))
    if args.threads:
        parts.append(report_threads(args, c, X, y))
    if args.live:
        parts.append(report_live(args, c, X, y, X_val, y_val) or "live page skipped")
    print(f"\nload average  {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end"
          f" (above {threads} means other work shared the CPUs: read the ratios, not the "
          f"seconds); other work now: {others_now()}")
    rss_part = f"peak RSS of python main.py {rss:.0f} MB" if rss is not None else "peak RSS skipped"
    print(f"headline: {'; '.join(parts)}; {rss_part}; "
          f"load {csv_name} {statistics.median(load_seconds):.2f} s")
    return 0


if __name__ == "__main__":
    # as main.py: bad input is one line (2), Ctrl-C one line (130), a reader that goes
    # away (| head) stops nothing (141); never a traceback
    stopping.raise_on_stop_signals()
    sys.exit(stopping.exit_code(run_benchmark, sys.argv[1:]))
