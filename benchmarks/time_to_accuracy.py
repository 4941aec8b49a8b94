"""The training seconds a recipe needs to reach each test accuracy, ours and PyTorch's.

    python benchmarks/time_to_accuracy.py                          # recipes/record.py, in full
    python benchmarks/time_to_accuracy.py --recipe recipes/best.py --epochs 10
    python benchmarks/time_to_accuracy.py --no-torch               # ours alone
    python benchmarks/time_to_accuracy.py --quick                  # a tiny run (seconds)
    python benchmarks/time_to_accuracy.py --rows 6000 --epochs 2   # the epochs' ratio, briefly

Trains the recipe (main.py's settings with the recipe file applied) on the
rows main.py trains on (train.csv less the validation rows VAL_FRACTION
holds out, the same seed), exactly as main.train does (bench.our_trainer),
and records after every epoch its training seconds and its accuracy on the
test rows. The test accuracy is only read: nothing here chooses anything
on it, and the recipe was chosen on validation rows elsewhere. Prints the
seconds (and epoch) at which the accuracy first reached 98.0, 99.0, 99.3,
99.4 and 99.5%.

Beside it, the same run in PyTorch on the CPU (bench.torch_trainer: the
same layers, starting weights, dropout, optimiser, schedule and batch
size, and each batch distorted by augment.py from the same NumPy uint8
rows, then scaled, as ours; its OpenMP threads sleeping between parallel
regions: --omp-wait), one epoch of each in turn (bench.race), so a
slow spell of this shared machine falls on both alike: the ratio of their
median epochs is the figure to quote; their seconds to each accuracy are
printed too, though one seed of each says little about the epochs an
accuracy takes. The accuracies against the seconds are drawn into
--out (a scratch folder, git-ignored runs/ by default): time_to_accuracy.png
and the numbers as time_to_accuracy.csv.

A line on stderr after every epoch gives each run's seconds and test
accuracy. Ctrl-C (or SIGTERM, SIGHUP) stops the race: the epochs done are
written and tabulated as a finished run's, marked "stopped" (exit status
128 + the signal: 130 for Ctrl-C). The output folder is checked before
the training begins.

--quick: the first 2,000 rows of train.csv (--rows changes that; the
validation rows are held out of them) and 500 of test.csv, the recipe's
schedule and distortions on a [784, 64, 10] network without dropout, 2
epochs (--epochs changes that): to see that everything runs, not a figure.
"""

import argparse
import contextlib
import errno
import io
import os
import signal
import statistics
import sys
import tempfile
import time

import bench  # beside this file: the trainers, the race, the machine's description
from bench import ROOT, settings

import stopping  # the project's, on the path bench set

TARGETS = (0.98, 0.99, 0.993, 0.994, 0.995)
RECORD = ROOT / "recipes" / "record.py"
QUICK = {"rows": 2000, "test_rows": 500, "layers": [784, 64, 10], "epochs": 2}


def parse_args(argv):
    """The command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--recipe", default=str(RECORD), help="a recipe file (default recipes/record.py)")
    p.add_argument("--epochs", type=int, help="epochs to train (default: the recipe's EPOCHS)")
    p.add_argument("--csv", default=str(ROOT / "train.csv"), help="the training CSV")
    p.add_argument("--test-csv", default=str(ROOT / "test.csv"), help="the test CSV")
    p.add_argument("--out", default=str(ROOT / "runs" / "time_to_accuracy"),
                   help="the scratch folder for the picture and the CSV")
    p.add_argument("--rows", type=int,
                   help="train on the first N rows of the CSV only (for the epochs' ratio)")
    p.add_argument("--threads", type=int, help="BLAS threads (default: the recipe's THREADS)")
    p.add_argument("--no-torch", action="store_true", help="train ours alone")
    p.add_argument("--omp-wait", choices=bench.OMP_WAITS, default="passive",
                   help="how PyTorch's OpenMP threads wait (bench.import_peer): passive "
                        "(the default here: its batches are distorted in NumPy between its "
                        "steps) or libgomp's default, which spins")
    p.add_argument("--quick", action="store_true", help="a tiny run (see the docstring)")
    args = p.parse_args(argv)
    for name in ("epochs", "rows"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    return args


def recipe(args):
    """main.py's settings with the recipe applied, --quick's and --threads' changes made."""
    with contextlib.redirect_stdout(io.StringIO()):
        c = settings.configure(bench.main.DEFAULTS, [args.recipe])
    if args.quick:
        c = {**c, "LAYERS": QUICK["layers"], "EPOCHS": QUICK["epochs"], "DROPOUT": 0.0}
    if args.epochs:
        c["EPOCHS"] = args.epochs
    if args.threads is not None:
        c["THREADS"] = args.threads
    settings.check(c)  # as they will run: --epochs 1 against a 1-epoch warm-up is one line
    return c


def writable_folder(folder):
    """Make the output folder if need be and check that a file can be written in it, before
    the hours of training; raises OSError naming what is wrong."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise NotADirectoryError(errno.ENOTDIR, "a file, not a folder")
    os.makedirs(folder, exist_ok=True)
    with tempfile.TemporaryFile(dir=folder):
        pass


def first_reached(seconds, accuracies):
    """{target: (seconds, epoch) or None} for every target of TARGETS."""
    return {t: bench.time_to(seconds, accuracies, t) for t in TARGETS}


def cell(found):
    return f"{found[0]:.0f} s (epoch {found[1]})" if found else "not reached"


def draw(folder, log, title):
    """The test accuracy against the training seconds of each run: the picture's path, or ""."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for name, entry in log.items():
        if entry["acc"]:
            elapsed = [sum(entry["seconds"][:k + 1]) for k in range(len(entry["seconds"]))]
            ax.plot(elapsed[:len(entry["acc"])], [100 * a for a in entry["acc"]], marker=".",
                    label=name)
    for t in TARGETS:
        ax.axhline(100 * t, color="grey", linewidth=0.5, linestyle=":")
    reached = [a for entry in log.values() for a in entry["acc"]]
    top_part = max(reached, default=0) >= TARGETS[0]  # the targets' band, or all of a short run
    ax.set_ylim(97.5 if top_part else max(0, 100 * min(reached, default=0) - 1), 100)
    ax.set_xlabel("training seconds (scoring not counted)")
    ax.set_ylabel("test accuracy, %")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="lower right")
    fig.tight_layout()
    path = os.path.join(folder, "time_to_accuracy.png")
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def write_csv(folder, log):
    """Every run's epochs, seconds and test accuracy, one row each: the file's path."""
    path = os.path.join(folder, "time_to_accuracy.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write("run,epoch,seconds,training_seconds,test_accuracy\n")
        for name, entry in log.items():
            total = 0.0
            for epoch, (s, a) in enumerate(zip(entry["seconds"], entry["acc"]), start=1):
                total += s
                f.write(f"{name},{epoch},{s:.3f},{total:.3f},{a:.4f}\n")
    return path


def run(argv):
    """Train, print the tables, draw the picture; returns the exit code."""
    args = parse_args(argv)
    bench.machine.keep_freed_memory()  # as main.py does before training
    c = recipe(args)  # bad input raises InputError: one line and exit 2 (stopping.exit_code)
    rows = args.rows or (QUICK["rows"] if args.quick else None)
    with contextlib.redirect_stdout(io.StringIO()):
        X, y, *_ = bench.load_training_rows(args.csv, c, rows)
        X_test, y_test = bench.load_test_rows(args.test_csv, c)
    try:
        writable_folder(args.out)
    except OSError as e:
        print(f"error: {args.out}: cannot write there ({e.strerror or e})", file=sys.stderr)
        return 4
    if args.quick:
        X_test, y_test = X_test[:QUICK["test_rows"]], y_test[:QUICK["test_rows"]]
    torch, why = (None, "--no-torch") if args.no_torch else bench.import_peer("torch", args.omp_wait)
    layers, batch = c["LAYERS"], c["BATCH_SIZE"]
    trainers = {"ours": bench.our_trainer(c, layers, batch, X, y)}
    if torch is not None:
        trainers["PyTorch"] = bench.torch_trainer(torch, c, layers, batch, X, y, c["THREADS"])
    command = " ".join(["python benchmarks/time_to_accuracy.py", *argv])
    print(f"command       {command}")
    print("\n".join(bench.machine_lines()))
    print(f"              recipe {args.recipe}: {'-'.join(map(str, layers))}, batch {batch}, "
          f"{c['EPOCHS']} epochs, {len(X)} training rows, {len(X_test)} test rows"
          + (f"; PyTorch's {bench.omp_policy()}" if torch else f"; PyTorch skipped: {why}"),
          flush=True)
    started, log = time.perf_counter(), {}
    try:
        bench.race(trainers, c["EPOCHS"], X_test, y_test, log=log, after_round=progress)
        stopped = ("", 0)
    except KeyboardInterrupt as e:  # Ctrl-C, SIGTERM, SIGHUP: keep the epochs done
        for entry in log.values():
            del entry["seconds"][len(entry["acc"]):]  # an epoch whose scoring was cut short
            entry["status"] = "stopped" if entry["status"] == "ok" else entry["status"]
        status = stopping.interrupted_status(e)
        by = "Ctrl-C" if status - 128 == signal.SIGINT else signal.Signals(status - 128).name
        stopped = (f"; stopped by {by}", status)
    trained = time.perf_counter() - started
    unwritten, written = None, []
    if any(entry["acc"] for entry in log.values()):
        try:  # the files first: a closed pipe on the tables below loses nothing
            written.append(write_csv(args.out, log))
            written.append(draw(args.out, log, f"{os.path.basename(args.recipe)}, "
                                               f"{'-'.join(map(str, layers))}, {len(X)} rows"))
        except OSError as e:
            unwritten = f"error: {args.out}: could not be written ({e.strerror or e})"
    print(f"(trained in {trained:.0f} s, scoring included; "
          f"{time.strftime('%Y-%m-%d %H:%M %Z')}{stopped[0]})\n")
    print_table(log)
    if written:
        print("wrote:\n" + "\n".join(f"  {p}" for p in written))
    if unwritten:
        print(unwritten, file=sys.stderr)
        return 4
    if not written:
        print("no epoch was scored: nothing written", file=sys.stderr)
    return stopped[1]


def print_table(log):
    """Each run's epochs, median epoch, seconds to each target and last accuracy; the ratio."""
    print("| run | epochs | median epoch s | " + " | ".join(f"to {100 * t:.1f}%" for t in TARGETS)
          + " | test acc at the end |")
    print("| --- | ---: | ---: | " + " | ".join("---:" for _ in TARGETS) + " | ---: |")
    for name, entry in log.items():
        found = first_reached(entry["seconds"], entry["acc"])
        status = "" if entry["status"] == "ok" else f" ({entry['status']})"
        final = f"{entry['acc'][-1]:.2%}" if entry["acc"] else "-"
        median = f"{statistics.median(entry['seconds']):.2f}" if entry["seconds"] else "-"
        print(f"| {name}{status} | {len(entry['seconds'])} | {median} | "
              + " | ".join(cell(found[t]) for t in TARGETS) + f" | {final} |")
    theirs = log.get("PyTorch", {}).get("seconds", [])
    ratios = [t / o for o, t in zip(log["ours"]["seconds"], theirs)]
    if ratios:
        print(f"\nPyTorch's epoch / ours, epoch by epoch (interleaved): median "
              f"{statistics.median(ratios):.2f}x (range {min(ratios):.2f}-{max(ratios):.2f})")


def progress(epoch, epochs, log):
    """One line on stderr after every round: each run's epoch seconds and test accuracy."""
    runs = "   ".join(f"{name} {entry['seconds'][-1]:.2f} s {entry['acc'][-1]:.2%}"
                       for name, entry in log.items() if len(entry["acc"]) == epoch)
    print(f"epoch {epoch}/{epochs}   {runs}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    # as main.py: a reader that goes away (| head) stops nothing, the files are still
    # written (exit 141); Ctrl-C before the training is one line (130); never a traceback
    stopping.raise_on_stop_signals()  # SIGTERM and SIGHUP keep the epochs done, as Ctrl-C does
    sys.exit(stopping.exit_code(run, sys.argv[1:]))
