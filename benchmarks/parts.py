"""What each speed and memory choice of the trainer buys, against the alternative, in one run.

    python benchmarks/parts.py                 # every speed and memory figure, train.csv (~2 min)
    python benchmarks/parts.py --training      # and the trained networks' figures (~2 min more)
    python benchmarks/parts.py --quick         # tiny sizes, for the smoke test (seconds)
    python benchmarks/parts.py --quick --training --csv small.csv --seeds 0 --epochs 1
    python benchmarks/parts.py --rounds 30 --reps 5000   # more repetitions, steadier medians
    python benchmarks/parts.py --distortions   # section 8 alone (~2 min)
    python benchmarks/parts.py --malloc        # section 9 alone (~2 min)
    python benchmarks/parts.py --record        # section 5 alone, for recipes/record.py (~1 min)
    python benchmarks/parts.py --overlap       # section 10 alone (~1 min)

Run from the project root. docs/performance.md quotes these figures,
docs/record.md those of sections 5 with --record and 10 (and docs/deep.md
and docs/techniques.md the trained networks'). Each compares
the project's own function (utils.py, augment.py, data.py) with the
alternative written below, on the default network of main.py
([784, 256, 128, 64, 10], batch 128, momentum, float32) and rows of the CSV:

  1. float32 against float64: utils.train_step on a batch already scaled,
     the same functions on weights and batches of each dtype;
  2. the momentum step: utils.train_step with utils.update (lr g into a
     new array, then three in-place passes; the gradients left as they were)
     against the same step with in_place_update (lr g in g's own memory, as
     utils.update did before it left the gradients alone) and with
     textbook_update (v = mu v + g; p -= lr v, new arrays), each swapped in
     for utils.update; and the three updates alone;
  3. the 1-pixel shifts: augment.random_shift (one flat gather) against
     shift_by_indexing (fancy indexing of the padded batch), on a batch of
     uint8 rows (both give the same images from the same generator: checked);
  4. reading the CSV: data.load_csv (uint8, chunks of 10,000 rows, every
     cell checked) against one pd.read_csv of the file, as uint8 and with
     pandas' default int64; each in a child process of its own, whose peak
     resident memory is Linux's VmHWM (/proc/self/status; getrusage's
     ru_maxrss where there is none, which on Linux starts from the parent's
     size at the fork; tracemalloc would miss the C parser's malloc'd
     buffers), with the rise over its peak before reading, and its seconds;
  5. one default training step, part by part: the batch's fetch, shift and
     scaling, the 4 forward and 7 backward matrix products, bias + ReLU,
     the loss, the backward's masks and sums, the update; each timed alone
     with time.perf_counter on the operands of a real step (fresh copies
     made untimed before each call), thousands of times, medians; beside
     utils.train_step and one batch of utils.train_epoch, timed whole;
     with --record (alone), the same for recipes/record.py's network and
     settings (its distortions, and its dropout as one more part); then
     the least work two parts could be done in (one pass over the weights,
     W += V, for the update; dropout's random numbers alone), and the
     products, the distortions and that least work added up: the least a
     batch could take with all of it done one after another, as
     utils.train_epoch does, as a multiple of the products;
  8. the distortions of the record recipe (recipes/record.py's network,
     batch 128; --quick: 784-250-200-10),
     each against that network's training step, interleaved: the affine
     distortions alone (augment.random_affine: rotations of 15 degrees,
     scalings of 15%, shifts of 2 pixels), with the elastic ones (alpha 36,
     sigma 6), their elastic share; and the two SciPy-or-NumPy choices of
     augment.py: the elastic fields smoothed by two matrix products against
     ndimage.gaussian_filter, and the bilinear resampling as one NumPy gather
     against ndimage.map_coordinates (the batch stacked as one tall picture,
     its quickest form here), both giving the same numbers (checked).

  9. with --malloc (alone): what machine.keep_freed_memory buys: batches
     of utils.train_epoch, as main.train runs them (main.setup, the
     recipe's augmentation and dropout), of the record recipe's network and
     of main.py's default one, each in a fresh child process that calls
     keep_freed_memory before training or does not, the two kinds of child
     alternating (a process cannot undo the call, so each side needs its
     own); the medians of each child's per-batch seconds.
 10. with --overlap (alone): the record recipe's training on a few
     batches, utils.train_epoch against the same epoch with work moved to
     a second thread (overlapped_epoch below): the next batch prepared
     (fetched, distorted, scaled, its dropout masks drawn) while this
     batch's update runs, the update's halves at once (one on a second
     thread), both, and the next batch prepared beside this batch's
     matrix products: the issue's "preparing the next batch while BLAS
     works", tried where it can pay (the update is NumPy's work on one
     core) and where it literally says. Each side's weights are checked
     equal to utils.train_epoch's, to the last bit.

Speed figures interleave the sides compared round by round (bench.py's
time_interleaved, or one call of each part per round), so a burst of load
from elsewhere on this shared machine falls on all alike; the ratio of
medians is reported, with the range of the per-round ratios. With
--training (benchmarks/runner.py's run_main, each a child `python main.py`):

  6. the largest incoming-weight norm (a column of W) of any unit of each
     layer of the default network, as saved (the kept epoch's weights);
  7. BATCH_NORM = True with the running averages' momentum at 0.9
     (utils.BN_MOMENTUM) and at 0.99 (Keras' default, patched into the
     child only), per seed: the best validation accuracy of each.
"""

import argparse
import concurrent.futures
import contextlib
import io
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench  # beside this file: the machine's description, the interleaved timing
import numpy as np
import runner
from bench import ROOT, augment, data, machine, main, settings, utils
from scipy import ndimage

QUICK = {"rows": 2000, "rounds": 2, "steps": 3, "reps": 20, "loads": 1}
FULL = {"rows": None, "rounds": 30, "steps": 100, "reps": 5000, "loads": 3}
SIZES = {"rows": "use only the first N rows of the CSV for the timings",
         "rounds": "interleaved rounds of each comparison",
         "steps": "training steps (or shifts, or updates) per side and round",
         "reps": "timed calls of each part of the step",
         "loads": "child processes reading the CSV, per way"}
BN_MOMENTA = (0.9, 0.99)
LEAST = "least:"  # marks a bound in the step's table (section 5), not a part of the step
READS = {"data.load_csv": "uint8 in chunks of 10,000 rows, every cell checked",
         "pd.read_csv, uint8": "one read of the whole file",
         "pd.read_csv, int64": "one read, pandas' default dtype"}
READ_CHILD = """
import resource, sys, time
sys.path.insert(0, sys.argv[3])
import numpy as np, pandas as pd
import data

def peak_kb():  # this process's own peak: ru_maxrss would carry the parent's size over the fork
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

path, how = sys.argv[1], sys.argv[2]
before = peak_kb()
start = time.perf_counter()
if how == "data.load_csv":
    X, y = data.load_csv(path, 9, report=lambda line: None)
else:
    X = pd.read_csv(path, dtype=np.uint8 if how.endswith("uint8") else None).to_numpy()
seconds = time.perf_counter() - start
print(before, peak_kb(), seconds)
"""
MALLOC_CHILD = """
import contextlib, io, statistics, sys, time
sys.path.insert(0, sys.argv[1])
import bench
from bench import machine

recipe, csv, rows, keep, threads, batches, rounds = sys.argv[2:9]
kept = machine.keep_freed_memory() if keep == "keep" else False
c = bench.recipe_config(recipe) if recipe else bench.default_config()
c["THREADS"] = int(threads)
with contextlib.redirect_stdout(io.StringIO()):
    X, y, *_ = bench.load_training_rows(csv, c, int(rows))
n = min(len(X), int(batches) * c["BATCH_SIZE"])
trainer = bench.our_trainer(c, c["LAYERS"], c["BATCH_SIZE"], X[:n], y[:n])  # as main.train
seconds = []
for _ in range(int(rounds) + 1):  # the first, untimed, maps what the steps use
    start = time.perf_counter()
    trainer.epoch()
    seconds.append((time.perf_counter() - start) / -(-n // c["BATCH_SIZE"]))
print(kept, statistics.median(seconds[1:]))
"""


def parse_args(argv):
    """The command-line options, with --quick's sizes filled in where not given."""
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    for name, file, what in (("csv", "train.csv", "the training CSV"),
                             ("test-csv", "test.csv", "the test CSV of the --training runs")):
        p.add_argument(f"--{name}", default=str(ROOT / file),
                       help=f"{what} (default: {file} in the project root)")
    p.add_argument("--quick", action="store_true", help="the tiny sizes below")
    for name, text in SIZES.items():
        p.add_argument(f"--{name}", type=int,
                       help=f"{text} (default {FULL[name] or 'all'}, --quick {QUICK[name]})")
    p.add_argument("--threads", type=int,
                   help="BLAS threads (default: main.py's THREADS, 0: chosen from the load)")
    p.add_argument("--training", action="store_true",
                   help="also train: the default network's weight norms, and batch "
                        "normalisation's momentum 0.9 against 0.99")
    p.add_argument("--distortions", action="store_true",
                   help="measure section 8 only (the record recipe's distortions)")
    p.add_argument("--record", action="store_true",
                   help="measure section 5 only, for recipes/record.py's network and settings")
    p.add_argument("--malloc", action="store_true",
                   help="measure section 9 only (machine.keep_freed_memory)")
    p.add_argument("--overlap", action="store_true",
                   help="measure section 10 only (the record epoch's work shared with a thread)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1],
                   help="SEEDs of the batch normalisation runs (default: 0 1)")
    p.add_argument("--epochs", type=int, help="EPOCHS of the --training runs (default main.py's)")
    args = p.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for name in ("rows", "rounds", "steps", "reps", "loads", "epochs", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f"--{name} must be at least 1")
    return args


# ----------------------------------------------------------------------------
# the alternatives


def textbook_update(params, grads, state, lr, optimiser="momentum", momentum=0.9, **_):
    """The momentum step as textbooks write it: v = mu v + g; p -= lr v.

    Each product makes a new array (mu v, then + g, then lr v), and the new
    velocity replaces the old in state. For a constant lr it moves p as
    utils.update does (whose velocity holds -lr v). Momentum only.
    """
    if optimiser != "momentum":
        raise ValueError("textbook_update is the momentum step only")
    state["step"] += 1
    velocity = state["velocity"]
    for l, (layer, layer_grads) in enumerate(zip(params, grads)):
        for name, p in layer.items():
            v = momentum * velocity[l][name] + layer_grads[name]
            p -= lr * v
            velocity[l][name] = v


def in_place_update(params, grads, state, lr, optimiser="momentum", momentum=0.9, **_):
    """utils.update's momentum step as it was before it left grads alone: g *= lr in g's own
    memory, then v *= mu; v -= g; p += v, four in-place passes with no temporary array.
    Momentum only; it moves p and v exactly as utils.update does."""
    if optimiser != "momentum":
        raise ValueError("in_place_update is the momentum step only")
    state["step"] += 1
    for l, (layer, layer_grads) in enumerate(zip(params, grads)):
        for name, p in layer.items():
            g, v, dt = layer_grads[name], state["velocity"][l][name], p.dtype.type
            g *= dt(lr)
            v *= dt(momentum)
            v -= g
            p += v


def shift_by_indexing(X, max_shift, rng):
    """augment.random_shift's shifts, taken by fancy indexing of the padded batch.

    Draws the shifts as augment.random_shift does, so the same generator state
    gives the same images; the window of each image is picked by indexing
    the (n, side + 2k, side + 2k) frame with three broadcast index arrays.
    """
    n, n_pixels = X.shape
    side, k = math.isqrt(n_pixels), max_shift
    padded = np.pad(X.reshape(n, side, side), ((0, 0), (k, k), (k, k)))
    dy, dx = rng.integers(0, 2 * k + 1, size=(2, n))
    grid = np.arange(side)
    rows = dy[:, None, None] + grid[None, :, None]
    cols = dx[:, None, None] + grid[None, None, :]
    return padded[np.arange(n)[:, None, None], rows, cols].reshape(n, n_pixels)


# ----------------------------------------------------------------------------
# timing


def interleaved(sides, args):
    """Median seconds per call of each side, interleaved round by round.

    sides -- a dict of name: function doing args.steps calls of that side.
    Returns (medians, per-round ratios of each side to the first).
    """
    runs = {name: (lambda f=f: f() or "ok") for name, f in sides.items()}  # bench's statuses
    timed = bench.time_interleaved(runs, args.rounds, 1, settle=0.0)
    per_call = {name: [s / args.steps for s in seconds] for name, (seconds, _) in timed.items()}
    first = next(iter(per_call))
    ratios = {name: [a / b for a, b in zip(s, per_call[first])] for name, s in per_call.items()}
    return {name: statistics.median(s) for name, s in per_call.items()}, ratios


def stepper(c, X, y, args, dtype=np.float32, most=200):
    """A function running args.steps steps of utils.train_step, as main.py's defaults would.

    The weights are main.setup's, cast to dtype; the batches are the full
    batches of a shuffled order of X's rows (the first `most` of them),
    scaled to dtype beforehand and taken in turn, call after call; the
    learning rate is LEARNING_RATE, constant. Returns (run, params, state).
    """
    rng = np.random.default_rng(c["SEED"])
    params, _ = main.setup(c, len(X), rng)
    params = [{name: p.astype(dtype) for name, p in layer.items()} for layer in params]
    state, options = utils.init_state(params, c["OPTIMISER"]), settings.step_options(c)
    full = [idx for idx in utils.batches(len(X), c["BATCH_SIZE"], rng)
            if len(idx) == c["BATCH_SIZE"]][:most]
    batches = [(utils.normalise(X[idx], dtype), y[idx]) for idx in full]
    turn = [0]

    def run():
        for _ in range(args.steps):
            Xb, yb = batches[turn[0] % len(batches)]
            turn[0] += 1
            utils.train_step(params, state, Xb, yb, c["LEARNING_RATE"], rng, **options)

    return run, params, state


def repeat(function, n, *arguments):
    """A function calling function(*arguments) n times."""
    def run():
        for _ in range(n):
            function(*arguments)
    return run


def with_update(run, update):
    """run(), with utils.update replaced by update for its duration."""
    def swapped():
        original, utils.update = utils.update, update
        try:
            run()
        finally:
            utils.update = original
    return swapped


def compare_dtypes(c, X, y, args):
    """Section 1: a train_step in float32 against one in float64."""
    f32, _, _ = stepper(c, X, y, args, np.float32)
    f64, _, _ = stepper(c, X, y, args, np.float64)
    return interleaved({"float32": f32, "float64": f64}, args)


def compare_momentum(c, X, y, args):
    """Section 2: train_step with utils.update, with in_place_update (which overwrites the
    gradients) and with textbook_update; the updates alone."""
    ours, params, state = stepper(c, X, y, args)
    in_place, *_ = stepper(c, X, y, args)
    textbook, *_ = stepper(c, X, y, args)
    steps = interleaved({"utils.update": ours,
                         "in place": with_update(in_place, in_place_update),
                         "textbook": with_update(textbook, textbook_update)}, args)
    grads = [{name: np.full_like(p, 1e-3) for name, p in layer.items()} for layer in params]

    def velocities():
        return {**state, "velocity": utils.copy_params(state["velocity"])}

    # lr 1: in_place_update scales the gradients in place, and they must not shrink call after
    # call (1.0 * g is g to the bit)
    alone = interleaved({
        "utils.update": repeat(utils.update, args.steps, params, grads, state, 1.0, "momentum",
                               c["MOMENTUM"]),
        "in place": repeat(in_place_update, args.steps, params, grads, velocities(), 1.0,
                           "momentum", c["MOMENTUM"]),
        "textbook": repeat(textbook_update, args.steps, params, grads, velocities(), 1.0,
                           "momentum", c["MOMENTUM"])}, args)
    return steps, alone


def compare_shifts(c, X, args):
    """Section 3: augment.random_shift against shift_by_indexing, on one batch."""
    batch, k = X[:c["BATCH_SIZE"]], max(1, c["MAX_SHIFT"])
    same = np.array_equal(augment.random_shift(batch, k, np.random.default_rng(1)),
                          shift_by_indexing(batch, k, np.random.default_rng(1)))
    if not same:
        raise AssertionError("shift_by_indexing does not give augment.random_shift's images")
    rng = np.random.default_rng(2)
    return interleaved({"augment.random_shift": repeat(augment.random_shift, args.steps, batch, k, rng),
                        "indexing": repeat(shift_by_indexing, args.steps, batch, k, rng)}, args)


RECORD = ROOT / "recipes" / "record.py"
QUICK_RECORD_LAYERS = [784, 250, 200, 10]
DISTORTION = {"max_shift": 2, "max_degrees": 15.0, "max_scale": 0.15}  # Ciresan et al.'s range
ELASTIC = {"alpha": 36.0, "sigma": 6.0}


def smooth_by_ndimage(n, side, alpha, sigma, rng):
    """augment.elastic_fields, smoothed by ndimage.gaussian_filter over the batch instead."""
    noise = rng.random((2, n, side, side), dtype=np.float32) * 2 - 1
    return alpha * ndimage.gaussian_filter(noise, sigma, mode="constant", axes=(2, 3))


def resample_by_map_coordinates(images, src_y, src_x):
    """augment.resample by one ndimage.map_coordinates call on the batch as one tall picture.

    Each image is framed by a row of zeros above and below, so that no point
    reads its neighbour in the stack; two dimensions, so four neighbours per
    point (a 3-D call on the (n, side, side) batch reads eight).
    """
    n, side, _ = images.shape
    height = side + 2
    tall = np.zeros((n, height, side), dtype=np.float32)
    tall[:, 1:side + 1] = images
    rows = np.clip(src_y, -1, side) + 1 + height * np.arange(n)[:, None, None]
    return ndimage.map_coordinates(tall.reshape(n * height, side), np.stack([rows, src_x]),
                                   order=1, prefilter=False, mode="grid-constant", cval=0.0)


def compare_distortions(c, X, y, args):
    """Section 8: the record network's step against its distortions; the SciPy/NumPy choices.

    Returns (medians, ratios, layers): seconds per call of each side, the
    per-round ratios to the step, and the network's widths.
    """
    layers = QUICK_RECORD_LAYERS if args.quick else bench.recipe_config(RECORD)["LAYERS"]
    record = {**c, "LAYERS": layers, "DROPOUT": 0.0}
    batch = X[:c["BATCH_SIZE"]]
    n, side = len(batch), math.isqrt(batch.shape[1])
    check = np.random.default_rng(3)
    src_y, src_x = check.uniform(-3, side + 3, (2, n, side, side))
    images = batch.reshape(n, side, side)
    if not np.allclose(augment.resample(images, src_y, src_x),
                       resample_by_map_coordinates(images, src_y, src_x), atol=1e-3):
        raise AssertionError("map_coordinates does not read what augment.resample reads")
    if not np.allclose(augment.elastic_fields(n, side, 36.0, 6.0, np.random.default_rng(4)),
                       smooth_by_ndimage(n, side, 36.0, 6.0, np.random.default_rng(4)),
                       atol=1e-4):
        raise AssertionError("gaussian_filter does not smooth as augment.gaussian_matrix does")
    steps = max(2, args.steps // 20)  # a record step takes a hundred times a default one's
    step, _, _ = stepper(record, X, y, argparse.Namespace(steps=steps))
    rng = np.random.default_rng(5)
    sides = {
        "record step": step,
        "affine": repeat(lambda: augment.random_distortion(batch, **DISTORTION, alpha=0.0,
                                                           sigma=1.0, rng=rng), steps),
        "affine + elastic": repeat(lambda: augment.random_distortion(
            batch, **DISTORTION, **ELASTIC, rng=rng), steps),
        "fields, matrix products": repeat(augment.elastic_fields, steps, n, side,
                                          ELASTIC["alpha"], ELASTIC["sigma"], rng),
        "fields, gaussian_filter": repeat(smooth_by_ndimage, steps, n, side, ELASTIC["alpha"],
                                          ELASTIC["sigma"], rng),
        "resample, NumPy gather": repeat(augment.resample, steps, images, src_y, src_x),
        "resample, map_coordinates": repeat(resample_by_map_coordinates, steps, images, src_y,
                                            src_x),
    }
    runs = {name: (lambda f=f: f() or "ok") for name, f in sides.items()}
    timed = bench.time_interleaved(runs, args.rounds, 1, settle=0.0)
    per_call = {name: [t / steps for t in seconds] for name, (seconds, _) in timed.items()}
    ratios = {name: [a / b for a, b in zip(t, per_call["record step"])]
              for name, t in per_call.items()}
    ratios["elastic share"] = [(e - a) / s for e, a, s in zip(
        per_call["affine + elastic"], per_call["affine"], per_call["record step"])]
    return {name: statistics.median(t) for name, t in per_call.items()}, ratios, layers


def halves(params, grads, state):
    """Every parameter, gradient and velocity cut in two by rows: two (params, grads, state) of views."""
    def cut(tree, k):
        return [{name: np.array_split(a, 2)[k] for name, a in layer.items()} for layer in tree]
    return [(cut(params, k), cut(grads, k), {"step": state["step"],
                                             "velocity": cut(state["velocity"], k)})
            for k in (0, 1)]


def overlapped_epoch(params, state, X, y, c, rng, lr_at, augment_with, pool, prefetch, split):
    """utils.train_epoch (no BN, momentum), with its work shared with other threads.

    prefetch -- None, or when the next batch is prepared (fetched,
    distorted, scaled, its dropout masks drawn) on a pool thread: "update",
    while this batch's update runs; "products", from the start of this
    batch's forward pass, beside its matrix products (whose BLAS threads
    then share the two cores with it);
    split -- the update's halves (by rows) run at once, one on a pool
    thread and one on this one. With both, three things run at once (the
    pool has two threads). The random numbers are drawn in train_epoch's
    order (a pool thread draws the next batch's only after this batch's
    masks, while this thread draws none), and each number is computed by
    the same arithmetic, so the weights end as utils.train_epoch's, to the
    last bit (checked). Raises ValueError for settings it does not follow
    (batch normalisation, weight decay, max-norm, another optimiser).
    """
    if (c["BATCH_NORM"] or c["WEIGHT_DECAY"] or c["MAX_NORM"]
            or c["OPTIMISER"] != "momentum"):
        raise ValueError("overlapped_epoch follows momentum without BN, weight decay or max-norm")
    dropout = settings.step_options(c)["dropout"]

    def prepare(idx):  # what train_epoch and train_step do before forward
        X_batch = X[idx]
        if augment_with:
            X_batch = augment_with(X_batch, rng)
        masks = utils.dropout_masks(params, len(idx), dropout, rng) if dropout else None
        return utils.normalise(X_batch), y[idx], masks

    order = list(utils.batches(len(X), c["BATCH_SIZE"], rng))
    batch = prepare(order[0])
    for i in range(len(order)):
        X_batch, y_batch, masks = batch
        ahead = i + 1 < len(order)
        upcoming = pool.submit(prepare, order[i + 1]) if prefetch == "products" and ahead else None
        Z, cache = utils.forward(params, X_batch, c["ACTIVATION"], masks)
        np.count_nonzero(Z.argmax(axis=1) == y_batch)  # train_step's count of the right answers
        _, dZ = utils.softmax_cross_entropy(Z, y_batch)
        grads = utils.backward(params, cache, dZ, c["ACTIVATION"])
        if prefetch == "update" and ahead:
            upcoming = pool.submit(prepare, order[i + 1])
        lr = lr_at(state["step"])
        if split:
            first, second = halves(params, grads, state)
            job = pool.submit(utils.update, *first, lr, "momentum", c["MOMENTUM"])
            utils.update(*second, lr, "momentum", c["MOMENTUM"])
            job.result()
            state["step"] += 1
        else:
            utils.update(params, grads, state, lr, "momentum", c["MOMENTUM"])
        if ahead:
            batch = upcoming.result() if upcoming else prepare(order[i + 1])
    return "ok"


def compare_overlap(args, X, y):
    """Section 10: the record recipe's epoch, alone and sharing its work with a second thread.

    Each side trains its own copy of the same network from the same seed on
    the same rows (args.steps // 5 batches, at least 3); after the last
    round the weights of all sides must be equal. Returns (medians per batch,
    per-round ratios of each side to utils.train_epoch).
    """
    record = bench.recipe_config(RECORD)
    if args.quick:
        record["LAYERS"] = QUICK_RECORD_LAYERS
    n = min(len(X), max(3, args.steps // 5) * record["BATCH_SIZE"])
    X, y = X[:n], y[:n]
    sides, weights = {}, {}
    pool = concurrent.futures.ThreadPoolExecutor(2)
    for name, prefetch, split in (("utils.train_epoch", None, None),
                                  ("next batch prepared beside the update", "update", False),
                                  ("update in two halves at once", None, True),
                                  ("both", "update", True),
                                  ("next batch prepared beside the products", "products",
                                   False)):
        rng = np.random.default_rng(record["SEED"])
        params, lr_at = main.setup(record, n, rng)
        state, options = utils.init_state(params), settings.step_options(record)
        augment_with = augment.augmentation(record)
        weights[name] = params
        if name == "utils.train_epoch":
            sides[name] = (lambda p=params, s=state, r=rng, a=augment_with, f=lr_at,
                           o=options: utils.train_epoch(p, s, X, y, record["BATCH_SIZE"], r,
                                                        f, a, **o)["status"])
        else:
            sides[name] = (lambda p=params, s=state, r=rng, a=augment_with, f=lr_at,
                           pre=prefetch, sp=split:
                           overlapped_epoch(p, s, X, y, record, r, f, a, pool, pre, sp))
    rounds = max(2, args.rounds // 3)
    with pool:
        timed = bench.time_interleaved(sides, rounds, 1, settle=0.0)
    first = weights["utils.train_epoch"]
    for name, params in weights.items():
        if not all(np.array_equal(a[k], b[k]) for a, b in zip(first, params) for k in a):
            raise AssertionError(f"{name}: the weights differ from utils.train_epoch's")
    batches = -(-n // record["BATCH_SIZE"])
    per_batch = {name: [s / batches for s in seconds] for name, (seconds, _) in timed.items()}
    ratios = {name: [b / a for a, b in zip(s, per_batch["utils.train_epoch"])]
              for name, s in per_batch.items()}
    return {name: statistics.median(s) for name, s in per_batch.items()}, ratios, rounds


def overlap_rows(overlap):
    """The rows of section 10's table."""
    medians, ratios, _ = overlap
    for name, median in medians.items():
        r = ratios[name]
        yield row(f"`{name}`" if name.startswith("utils") else name, f"{1e3 * median:.1f} ms",
                  f"**{medians['utils.train_epoch'] / median:.2f}x** "
                  f"({min(r):.2f}-{max(r):.2f})")


def compare_malloc(args):
    """Section 9: per-batch seconds of train_epoch with and without keep_freed_memory.

    For the record recipe's network and the default one, args.rounds // 5
    (at least 2; 1 with --quick) pairs of child processes, with and without
    the call alternating. Returns {network: {"keep": [...], "default":
    [...]}} of each child's median seconds per batch, and whether the C
    library took the call.
    """
    found, took = {}, False
    pairs = 1 if args.quick else max(2, args.rounds // 5)
    batches, rounds = (3, 1) if args.quick else (20, 3)
    for name, recipe in (("record", str(RECORD)), ("default", "")):
        found[name] = {"keep": [], "default": []}
        for _ in range(pairs):
            for side in ("keep", "default"):
                done = subprocess.run(
                    [sys.executable, "-c", MALLOC_CHILD, str(Path(__file__).parent), recipe,
                     args.csv, str(min(args.rows or 6000, 6000)), side, str(args.threads),
                     str(batches), str(rounds)],
                    capture_output=True, text=True, check=True, timeout=900)
                kept, seconds = done.stdout.split()
                took = took or kept == "True"
                found[name][side].append(float(seconds))
    return found, took


def malloc_rows(found, took):
    """The rows of section 9's table."""
    for name, sides in found.items():
        keep, default = (statistics.median(sides[k]) for k in ("keep", "default"))
        ratios = [d / k for k, d in zip(sides["keep"], sides["default"])]
        yield row(f"a batch of the {name} network, kept / returned", f"{1e3 * keep:.1f} ms",
                  f"{1e3 * default:.1f} ms",
                  f"**{default / keep:.2f}x** ({min(ratios):.2f}-{max(ratios):.2f})")
    if not took:
        yield row("(this C library has no mallopt: both sides are alike)", "", "", "")


def compare_reads(args):
    """Section 4: each way of READS in child processes, interleaved; medians per way.

    Returns {way: (peak MB, rise MB, seconds)}.
    """
    found = {way: [] for way in READS}
    for _ in range(args.loads):
        for way in READS:
            done = subprocess.run([sys.executable, "-c", READ_CHILD, args.csv, way, str(ROOT)],
                                  capture_output=True, text=True, check=True, timeout=600)
            before, peak, seconds = done.stdout.split()
            found[way].append((int(peak) / 1024, (int(peak) - int(before)) / 1024,
                               float(seconds)))
    return {way: tuple(statistics.median(x) for x in zip(*rows)) for way, rows in found.items()}


# ----------------------------------------------------------------------------
# the step, part by part


def step_parts(c, X, y):
    """The parts of one default training step: name: (prepare, run), in the step's order.

    Each run does one part on the operands of a real step (forward and
    backward of main.setup's network on a shuffled batch); prepare, untimed,
    gives it fresh inputs where the part overwrites them.
    """
    rng = np.random.default_rng(c["SEED"])
    params, _ = main.setup(c, len(X), rng)
    state = utils.init_state(params, c["OPTIMISER"])
    idx = rng.permutation(len(X))[:c["BATCH_SIZE"]]
    fetched = X[idx]
    shifted = augment.augmentation(c)(fetched, rng) if augment.augmentation(c) else fetched
    scaled, labels = utils.normalise(shifted), y[idx]
    weights = [layer["W"] for layer in params]
    Z, cache = utils.forward(params, scaled)
    inputs, acts = [step["A_prev"] for step in cache], [step["A"] for step in cache]
    products = [A @ W for A, W in zip(inputs, weights)]  # before the bias: Z's first form
    logits = Z.copy()
    _, dZ_out = utils.softmax_cross_entropy(Z.copy(), labels)
    grads = utils.backward(params, cache, dZ_out.copy())
    deltas = [dZ_out @ weights[-1].T]  # dA of each hidden layer, from the top, before its mask
    dZs = [dZ_out]
    for l in range(len(params) - 1, 0, -1):
        dZ = deltas[-1] * utils.relu_grad(acts[l - 1])
        dZs.insert(0, dZ)
        if l > 1:
            deltas.append(dZ @ weights[l - 1].T)
    deltas.reverse()  # deltas[l] belongs to hidden layer l, as acts[l]
    work = {}

    def fresh(sources):
        return lambda: work.update(buffers=[s.copy() for s in sources])

    def bias_relu():
        for l, (Z, layer) in enumerate(zip(work["buffers"], params)):
            Z += layer["b"]
            if l < len(params) - 1:
                utils.relu(Z)

    def loss():
        Z = work["buffers"][0]
        int(np.count_nonzero(Z.argmax(axis=1) == labels))
        utils.softmax_cross_entropy(Z, labels)

    def masks_sums():
        for dZ in dZs:
            dZ.sum(axis=0)
        for dA, A in zip(work["buffers"], acts):
            dA *= utils.relu_grad(A)

    def forward_products():
        for A, W in zip(inputs, weights):
            A @ W

    def backward_products():
        for l in range(len(params) - 1, -1, -1):
            inputs[l].T @ dZs[l]
            if l:
                dZs[l] @ weights[l].T

    def update():  # the gradients stay as they were: no fresh copy needed
        utils.update(params, grads, state, c["LEARNING_RATE"], c["OPTIMISER"], c["MOMENTUM"])

    def nothing():
        return None

    rates = settings.step_options(c)["dropout"]
    n_rows = len(labels)

    def dropout():  # the masks, the forward's products and the backward's
        masks = utils.dropout_masks(params, n_rows, rates, rng)
        for A, dA, mask in zip(acts, deltas, masks):
            if mask is not None:
                utils.dropout(A, mask)
                dA * mask  # dropout_backward's product, on a copy: deltas stay as they are

    augment_with = augment.augmentation(c)
    shift = {"shift it (main.py's augmentation)": (nothing, lambda: augment_with(fetched, rng))}
    dropped = {"dropout (masks, forward and backward)": (nothing, dropout)} if rates else {}
    copies = [(layer["W"].copy(), np.ones_like(layer["W"])) for layer in params]

    def one_pass():  # W += V on copies, so the step's weights do not drift
        for W, V in copies:
            W += V

    def draws():
        for layer, p in zip(params[:-1], rates or []):
            if p:
                rng.random((n_rows, layer["W"].shape[1]), dtype=np.float32)

    least = {f"{LEAST} one pass over the weights, W += V": (nothing, one_pass)}
    if rates:
        least[f"{LEAST} dropout's random numbers alone"] = (nothing, draws)
    return {
        "fetch the batch (X[idx], uint8)": (nothing, lambda: X[idx]),
        **(shift if augment_with else {}),
        "scale it (utils.normalise)": (nothing, lambda: utils.normalise(shifted)),
        f"forward matrix products ({len(params)})": (nothing, forward_products),
        "bias + ReLU": (fresh(products), bias_relu),
        "loss, its gradient and the correct count": (fresh([logits]), loss),
        f"backward matrix products ({2 * len(params) - 1})": (nothing, backward_products),
        "backward masks and sums": (fresh(deltas), masks_sums),
        **dropped,
        "update (utils.update, momentum)": (nothing, update),
        **least,
    }


def time_parts(c, X, y, args):
    """Section 5: median microseconds of each part, of train_step and of a train_epoch batch."""
    parts = step_parts(c, X, y)
    run, _, _ = stepper(c, X, y, argparse.Namespace(steps=1))  # one step a call, batch by batch
    parts["utils.train_step, whole (a scaled batch)"] = (lambda: None, run)
    seconds = {name: [] for name in parts}
    for _ in range(args.reps):
        for name, (prepare, part) in parts.items():
            prepare()
            start = time.perf_counter()
            part()
            seconds[name].append(time.perf_counter() - start)
    us = {name: 1e6 * statistics.median(s) for name, s in seconds.items()}
    rng = np.random.default_rng(c["SEED"])
    params, lr_at = main.setup(c, len(X), rng)
    state, options = utils.init_state(params, c["OPTIMISER"]), settings.step_options(c)
    n_batches = min(20, len(X) // c["BATCH_SIZE"])
    rows = n_batches * c["BATCH_SIZE"]
    epoch = []
    for _ in range(max(args.rounds, 3)):
        start = time.perf_counter()
        utils.train_epoch(params, state, X[:rows], y[:rows], c["BATCH_SIZE"], rng, lr_at,
                          augment.augmentation(c), **options)
        epoch.append((time.perf_counter() - start) / n_batches)
    us[f"one batch of utils.train_epoch (of {n_batches}), whole"] = 1e6 * statistics.median(epoch)
    return us


# ----------------------------------------------------------------------------
# training runs


def norms_of_default(args):
    """Section 6: the default network's largest column norm of W, layer by layer."""
    with tempfile.TemporaryDirectory(prefix="parts-") as folder:
        _, result, _ = runner.run_main(training_args(args), folder)
    return [float(np.sqrt((layer["W"] * layer["W"]).sum(axis=0)).max())
            for layer in result["params"]]


def training_args(args, *more):
    """main.py's command-line arguments of a --training run."""
    extra = [f"--EPOCHS={args.epochs}"] if args.epochs else []
    return [f"--TRAIN_CSV={args.csv}", f"--TEST_CSV={args.test_csv}",
            f"--THREADS={args.threads}", *extra, *more]


def bn_momenta(args):
    """Section 7: {(seed, momentum): (best validation accuracy, test accuracy)} with BATCH_NORM.

    Momentum 0.9 is utils.BN_MOMENTUM as it is; another value is set in the
    child only, as update_stats' default (which train_step uses).
    """
    found = {}
    for seed in args.seeds:
        for momentum in BN_MOMENTA:
            patch = ("import utils\n"
                     "assert utils.update_stats.__defaults__ == (utils.BN_MOMENTUM,)\n"
                     f"utils.BN_MOMENTUM = {momentum!r}\n"
                     f"utils.update_stats.__defaults__ = ({momentum!r},)\n")
            with tempfile.TemporaryDirectory(prefix="parts-") as folder:
                _, result, _ = runner.run_main(
                    training_args(args, "--BATCH_NORM", f"--SEED={seed}"), folder,
                    patch=None if momentum == utils.BN_MOMENTUM else patch)
            found[seed, momentum] = (max(result["history"]["val_acc"]), result["test_accuracy"])
    return found


# ----------------------------------------------------------------------------
# the report


def row(*cells):
    """One Markdown table row."""
    return "| " + " | ".join(cells) + " |"


def ratio_cell(medians, ratios, ours, other):
    """other / ours as 'N.NNx', with the range of the per-round ratios (ours timed first)."""
    per_round = ratios[other]
    return (f"**{medians[other] / medians[ours]:.2f}x** "
            f"({min(per_round):.2f}-{max(per_round):.2f})")


def comparison_rows(dtypes, momentum, shifts, reads):
    """The rows of the comparisons' table."""
    m, r = dtypes
    yield row("training step (`utils.train_step`, batch 128, scaled)", "float32",
              f"{1e6 * m['float32']:.0f} us", "float64", f"{1e6 * m['float64']:.0f} us",
              ratio_cell(m, r, "float32", "float64"))
    for what, (m, r) in zip(("training step, momentum", "the update alone, momentum"), momentum):
        for other, words in (("in place", "`g *= lr` in the gradients' memory"),
                             ("textbook", "textbook `v = mu v + g; p -= lr v`")):
            yield row(what, "`utils.update` (grads left as they were)",
                      f"{1e6 * m['utils.update']:.0f} us", words, f"{1e6 * m[other]:.0f} us",
                      ratio_cell(m, r, "utils.update", other))
    m, r = shifts
    yield row("shifts of up to 1 pixel, 128 uint8 rows", "`augment.random_shift` (flat gather)",
              f"{1e6 * m['augment.random_shift']:.0f} us", "fancy indexing of the padded batch",
              f"{1e6 * m['indexing']:.0f} us", ratio_cell(m, r, "augment.random_shift", "indexing"))
    ours = reads["data.load_csv"]
    for way in list(READS)[1:]:
        other = reads[way]
        yield row("reading the CSV: peak RSS of a child (rise over its start)", "`data.load_csv`",
                  f"{ours[0]:.0f} MB (+{ours[1]:.0f} MB)", f"`{way}` ({READS[way]})",
                  f"{other[0]:.0f} MB (+{other[1]:.0f} MB)",
                  f"{other[1] / ours[1]:.2f}x the rise" if ours[1] > 0 else "-")
        yield row("reading the CSV: seconds", "`data.load_csv`", f"{ours[2]:.2f} s",
                  f"`{way}`", f"{other[2]:.2f} s", f"{other[2] / ours[2]:.2f}x")


def distortion_rows(distortions):
    """The rows of the distortions' table (section 8)."""
    m, r, layers = distortions
    net = "-".join(map(str, layers))

    def share(name):
        return (f"{100 * statistics.median(r[name]):.1f}% "
                f"({100 * min(r[name]):.1f}-{100 * max(r[name]):.1f})")

    yield row(f"training step of {net}, batch 128 (`utils.train_step`)",
              f"{1e3 * m['record step']:.1f} ms", "100%")
    for name, what in (("affine", "affine distortions (`augment.random_affine`)"),
                       ("affine + elastic", "affine and elastic (`augment.random_distortion`)"),
                       ("elastic share", "of which the elastic part (difference of the two)")):
        seconds = (m["affine + elastic"] - m["affine"] if name == "elastic share" else m[name])
        yield row(what, f"{1e3 * seconds:.2f} ms", share(name))
    for ours, theirs in (("fields, matrix products", "fields, gaussian_filter"),
                         ("resample, NumPy gather", "resample, map_coordinates")):
        yield row(f"{ours} (augment.py) / {theirs.split(', ')[1]}",
                  f"{1e3 * m[ours]:.2f} / {1e3 * m[theirs]:.2f} ms",
                  f"**{m[theirs] / m[ours]:.2f}x** ("
                  f"{min(a / b for a, b in zip(r[theirs], r[ours])):.2f}-"
                  f"{max(a / b for a, b in zip(r[theirs], r[ours])):.2f})")


def part_rows(us):
    """The rows of the step's table: each part's microseconds and share of the whole step.

    The parts named LEAST are not parts of the step but the least work a
    part could be done in; they are left out of the sum and, after it,
    added to the products and the distortions (if any): the least a batch
    could take with that work done one after another on one thread, as
    utils.train_epoch does it, as a multiple of the matrix products.
    """
    whole = next(v for k, v in us.items() if k.startswith("one batch of utils.train_epoch"))
    summed = 0.0
    for name, value in us.items():
        if name.startswith(LEAST):
            continue
        summed += value if "whole" not in name else 0.0
        yield row(name, f"{value:.0f}", f"{value / whole:.0%}")
    products = sum(v for k, v in us.items() if "matrix products" in k)
    yield row("sum of the parts above", f"{summed:.0f}", f"{summed / whole:.0%}")
    count = sum(int(k.split("(")[1].split(")")[0]) for k in us if "matrix products" in k)
    yield row(f"of which the {count} matrix products", f"{products:.0f}",
              f"{products / whole:.0%}")
    least = {k: v for k, v in us.items() if k.startswith(LEAST)}
    if not least:
        return
    for name, value in least.items():
        yield row(name, f"{value:.0f}", f"{value / whole:.0%}")
    shifts = [v for k, v in us.items() if k.startswith("shift it")]
    bound = products + sum(shifts) + sum(least.values())
    what = "the products, the distortions and" if shifts else "the products and"
    yield row(f"{what} the least work above (**{bound / products:.2f}x** the products)",
              f"{bound:.0f}", f"{bound / whole:.0%}")


def training_rows(norms, bn):
    """The rows of the --training table."""
    yield row("largest incoming-weight norm of a unit, default network, per layer",
              ", ".join(f"{n:.2f}" for n in norms), f"largest {max(norms):.2f}")
    for seed in sorted({s for s, _ in bn}):
        cells = [f"{bn[seed, m][0]:.2%} (test {bn[seed, m][1]:.2%})" for m in BN_MOMENTA]
        gap = 100 * (bn[seed, BN_MOMENTA[1]][0] - bn[seed, BN_MOMENTA[0]][0])
        yield row(f"BATCH_NORM, best validation accuracy, SEED={seed}: momentum "
                  f"{BN_MOMENTA[0]} / {BN_MOMENTA[1]}", " / ".join(cells),
                  f"{gap:+.2f} points")


def print_table(heading, columns, rows, started):
    """A section's heading, its table (columns, then rows: right-aligned but the first) and
    the seconds since started that measuring it took."""
    print(heading)
    print(row(*columns))
    print(row("---", *["---:"] * (len(columns) - 1)))
    print("\n".join(rows))
    print(f"\n(measured in {time.perf_counter() - started:.0f} s)", flush=True)


def print_distortions(args, distortions):
    """Section 8's table, with its heading."""
    print(f"\nThe record recipe's distortions against its network's step, per batch of 128, "
          f"interleaved over {args.rounds} rounds (medians; share of the step, in brackets the "
          "range of the per-round shares); augment.py's two choices against the SciPy call "
          "they stand for (its time / ours):\n")
    print(row("figure", "per batch", "share of the step / ratio"))
    print(row("---", "---:", "---:"))
    print("\n".join(distortion_rows(distortions)))


def run(argv):
    """Measure everything asked for and print the tables; returns the exit code."""
    args = parse_args(argv)
    if not args.malloc:  # section 9 compares it in child processes
        machine.keep_freed_memory()  # as main.py does before training
    c = bench.default_config()
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the CSV's layout, if not standard
            X, y, *_ = bench.load_training_rows(args.csv, c, args.rows)  # as main.train has them
    except data.InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    threads = machine.BlasThreads(c["THREADS"] if args.threads is None else args.threads)
    threads.begin()
    args.threads = threads.threads
    command = " ".join(["python benchmarks/parts.py", *argv])
    print(f"command       {command}")
    print("\n".join(bench.machine_lines()))
    print(f"              {threads.describe()}; {len(X)} training rows of {args.csv} "
          f"(VAL_FRACTION held out)\n", flush=True)
    started = time.perf_counter()
    if args.record:
        record = bench.recipe_config(RECORD)
        if args.quick:
            record["LAYERS"] = QUICK_RECORD_LAYERS
        args.reps = min(args.reps, 200)  # a record step takes some 20 times a default one
        try:
            us = time_parts(record, X, y, args)
        finally:
            threads.end()
        print(f"One training step of recipes/record.py ({'-'.join(map(str, record['LAYERS']))}, "
              f"its distortions and dropout), each part timed alone {args.reps} times "
              "(time.perf_counter, medians):\n")
        print(row("part", "us", "share of a train_epoch batch"))
        print(row("---", "---:", "---:"))
        print("\n".join(part_rows(us)))
        print(f"\n(measured in {time.perf_counter() - started:.0f} s)", flush=True)
        return 0
    if args.malloc:
        threads.end()
        found, took = compare_malloc(args)
        print_table("Batches of utils.train_epoch in child processes (pairs alternating) that "
                    "call machine.keep_freed_memory before training, or do not: medians per "
                    "batch, the ratio of the medians and the range of each pair's:\n",
                    ("figure", "memory kept", "memory returned", "returned / kept"),
                    malloc_rows(found, took), started)
        return 0
    if args.overlap:
        try:
            overlap = compare_overlap(args, X, y)
        finally:
            threads.end()
        print_table(f"The record recipe's training (recipes/record.py: its network, distortions "
                    f"and dropout), per batch, interleaved over {overlap[2]} rounds; medians, "
                    "speed-up over utils.train_epoch and in brackets the range of the per-round "
                    "ones; the weights of every side checked equal to utils.train_epoch's at the "
                    "end:\n", ("epoch", "per batch", "speed-up"), overlap_rows(overlap), started)
        return 0
    if args.distortions:
        try:
            distortions = compare_distortions(c, X, y, args)
        finally:
            threads.end()
        print_distortions(args, distortions)
        print(f"\n(measured in {time.perf_counter() - started:.0f} s)", flush=True)
        return 0
    try:
        dtypes = compare_dtypes(c, X, y, args)
        momentum = compare_momentum(c, X, y, args)
        shifts = compare_shifts(c, X, args)
        us = time_parts(c, X, y, args)
        distortions = compare_distortions(c, X, y, args)
    finally:
        threads.end()
    reads = compare_reads(args)
    pin = os.environ.get("OPENBLAS_CORETYPE") or "not set"
    blas = bench.blas_pools()
    print(row("run", "value"))
    print(row("---", "---"))
    print(row("command", f"`{command}`"))
    print(row("machine", f"{bench.cpu_model()}, {bench.usable_cpus()} cores"))
    print(row("NumPy, BLAS", f"NumPy {np.__version__}, "
              + (f"{blas[0]['internal_api']} {blas[0]['version']} kernel "
                 f"{blas[0].get('architecture')}" if blas else "no BLAS found")
              + f", {args.threads} threads"))
    print(row("OPENBLAS_CORETYPE", pin))
    print(row("date", time.strftime("%Y-%m-%d %H:%M %Z")))
    print()
    print(f"Compared in one run, interleaved over {args.rounds} rounds of {args.steps} calls "
          f"(the CSV: {args.loads} rounds of one child per way); medians, and in brackets the "
          "range of the per-round ratios.\n")
    print(row("figure", "ours", "measured", "alternative", "measured", "alternative / ours"))
    print(row("---", "---", "---:", "---", "---:", "---:"))
    print("\n".join(comparison_rows(dtypes, momentum, shifts, reads)))
    print(f"\nOne default training step, each part timed alone {args.reps} times "
          "(time.perf_counter, medians):\n")
    print(row("part", "us", "share of a train_epoch batch"))
    print(row("---", "---:", "---:"))
    print("\n".join(part_rows(us)))
    print_distortions(args, distortions)
    print(f"\n(measured in {time.perf_counter() - started:.0f} s)", flush=True)
    if args.training:
        started = time.perf_counter()
        norms, bn = norms_of_default(args), bn_momenta(args)
        print(f"\nTrained networks (`python main.py`, on {args.threads} BLAS threads"
              + (f", EPOCHS={args.epochs}" if args.epochs else "") + "):\n")
        print(row("figure", "measured", "summary"))
        print(row("---", "---:", "---:"))
        print("\n".join(training_rows(norms, bn)))
        print(f"\n(trained in {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    # as main.py: Ctrl-C is one line (130), a reader that goes away (| head) stops nothing
    bench.stopping.raise_on_stop_signals()
    sys.exit(bench.stopping.exit_code(run, sys.argv[1:]))
