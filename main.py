"""Train a deep fully-connected network on MNIST, from scratch in NumPy.

    python main.py                           # the default network: ~98.9% in 15-25 s
    python main.py --LAYERS=[784,10,10]      # try another architecture
    python main.py --EPOCHS=5 --LEARNING_RATE=0.1
    python main.py recipes/best.py           # a named recipe (NAME = value lines): 99.27%
    python main.py --COMPARE=[[784,10,10],[784,256,10]]   # train several, compare them
    python main.py --PREDICT=my_digit.png    # classify your own digit, training nothing

Every constant in the block below can be edited here or overridden on the
command line as --NAME=value, where value is a Python literal (a string may
go without quotes). A run prints one line per epoch, then the test accuracy,
and writes runs/<architecture>.pkl and pictures under images/.
"""

import math
import os
import signal
import sys
import time

import numpy as np

import data
import digit
import plots
import runs
import settings
import utils

# ----------------------------------------------------------------------------
# data
TRAIN_CSV = "train.csv"      # label,pixel0..pixel783 per row
TEST_CSV = "test.csv"        # the same; used once, for the final report
VAL_FRACTION = 0.1           # share of the training rows held out for validation
# model
LAYERS = [784, 256, 128, 64, 10]  # widths from input to output
ACTIVATION = "relu"          # hidden layers: relu | leaky_relu | tanh | sigmoid
INIT = ""                    # he | glorot; "" picks the one that suits ACTIVATION
# optimisation
EPOCHS = 20                  # passes over the training rows
BATCH_SIZE = 128             # rows per gradient step
LEARNING_RATE = 0.05         # peak learning rate
OPTIMISER = "momentum"       # sgd | momentum | nesterov | adam | adamw
MOMENTUM = 0.9               # for momentum and nesterov
SCHEDULE = "cosine"          # learning rate over the run: constant | step | cosine
WARMUP_EPOCHS = 0.0          # linear warm-up at the start, in epochs
STEP_EPOCHS = 10             # for SCHEDULE="step": epochs between drops
STEP_GAMMA = 0.1             # for SCHEDULE="step": factor of each drop
# regularisation
WEIGHT_DECAY = 0.0           # L2 (decoupled for adamw); 5e-4 is a common value
DROPOUT = 0.0                # rate on hidden layers: one for all, or a list per layer
MAX_NORM = 0.0               # cap on each unit's incoming weight norm; 0 is off
MAX_SHIFT = 1                # augmentation: random shifts of up to this many pixels
MAX_ROTATE = 0.0             # augmentation: random rotations of up to this many degrees
MAX_SCALE = 0.0              # augmentation: random scalings by up to this fraction
PATIENCE = 0                 # stop after this many epochs without a better val acc; 0 is off
SEED = 0                     # one seed for the split, init, order, dropout, shifts
# output
RUNS_DIR = "runs"            # the weights (and predictions) go here, git-ignored
IMAGES_DIR = "images"        # learning curves, confusion matrix, mistakes
# after training
COMPARE = []                 # e.g. [[784,10,10],[784,256,10]]: train each, compare
PREDICT = ""                 # an image or CSV to classify with saved weights
WEIGHTS = ""                 # weights for PREDICT; "" means runs/<LAYERS>.pkl
# ----------------------------------------------------------------------------


DEFAULTS = {name: value for name, value in globals().items() if name.isupper()}


def main(argv):
    """The story of a run: settings, data, training, test, weights, pictures."""
    c = settings.configure(DEFAULTS, argv)
    settings.check(c)
    if c["PREDICT"]:
        predict(c)
        return 0
    start = time.perf_counter()
    split = data.load_data(c, np.random.default_rng(c["SEED"]))
    print(f"loaded {c['TRAIN_CSV']} and {c['TEST_CSV']} in {time.perf_counter() - start:.1f}s")
    results = compare(c, split) if c["COMPARE"] else {"": run(c, split, c["LAYERS"])}
    statuses = {r["status"] for r in results.values()}
    if "diverged" in statuses:
        return 3
    if "stopped" in statuses:
        print("stopped by Ctrl-C; the best weights and the curves so far are saved")
        return 130
    return 0


def run(c, split, layers, quiet=False):
    """Train one architecture on the loaded data, test it, save it, draw it."""
    X_train, y_train, X_val, y_val, X_test, y_test = split
    rng = np.random.default_rng([c["SEED"], 1])  # the split used SEED's own stream
    stem = runs.arch_name(layers)
    print(f"training {stem}: {len(X_train)} train rows, {len(X_val)} validation rows, "
          f"{utils.count_params(layers):,} parameters")
    start = time.perf_counter()
    params, best_epoch, history, status = train(c, layers, X_train, y_train, X_val, y_val,
                                                rng, quiet)
    train_seconds = time.perf_counter() - start
    print(f"trained in {train_seconds:.1f}s; keeping the weights of epoch {best_epoch}"
          + (" (best validation accuracy)" if len(X_val) and best_epoch else ""))
    test_accuracy = report_test(c, params, X_test, y_test, stem)
    result = {
        "layers": list(layers), "params": params, "config": {**c, "LAYERS": list(layers)},
        "history": history, "test_accuracy": test_accuracy, "best_epoch": best_epoch,
        "status": status, "train_seconds": train_seconds,
    }
    path = os.path.join(c["RUNS_DIR"], f"{stem}.pkl")
    runs.save_weights(path, result)
    print(f"weights saved to {path}")
    if history["epoch"]:
        picture = os.path.join(c["IMAGES_DIR"], f"curves-{stem}.png")
        plots.plot_history(history, f"{stem}: learning curves", picture)
        print(f"learning curves saved to {picture}")
    return result


def train(c, layers, X_train, y_train, X_val, y_val, rng, quiet=False):
    """Train one network, epoch by epoch; return its best params, history and how it ended.

    Each epoch is utils.train_epoch, whose every batch is utils.train_step:
    forward, softmax_cross_entropy, backward, update.
    """
    activation = c["ACTIVATION"]
    params = utils.init_params(layers, rng, c["INIT"] or utils.default_init(activation))
    state = utils.init_state(params, c["OPTIMISER"])
    steps_per_epoch = math.ceil(len(X_train) / c["BATCH_SIZE"])
    total_steps = c["EPOCHS"] * steps_per_epoch

    def lr_at(step):
        return utils.learning_rate(step, total_steps, c["LEARNING_RATE"], c["SCHEDULE"],
                                   round(c["WARMUP_EPOCHS"] * steps_per_epoch),
                                   c["STEP_EPOCHS"] * steps_per_epoch, c["STEP_GAMMA"])

    rates = [float(p) for p in settings.dropout_rates(c["DROPOUT"], layers)]
    options = {"activation": activation, "weight_decay": c["WEIGHT_DECAY"],
               "optimiser": c["OPTIMISER"], "momentum": c["MOMENTUM"],
               "max_norm_c": c["MAX_NORM"], "dropout": rates if any(rates) else None}
    history = {k: [] for k in ("epoch", "train_loss", "train_acc", "val_loss", "val_acc",
                               "lr", "seconds")}
    best = {"params": utils.copy_params(params), "epoch": 0, "key": None}
    augment = data.augmentation(c)
    stop = StopFlag()
    previous_handler = signal.signal(signal.SIGINT, stop)
    status = "ok"
    try:
        for epoch in range(1, c["EPOCHS"] + 1):
            start = time.perf_counter()
            lr = lr_at(state["step"])
            result = utils.train_epoch(params, state, X_train, y_train, c["BATCH_SIZE"], rng,
                                       lr_at, augment, lambda: stop.set, **options)
            if not all(np.isfinite(p).all() for layer in params for p in layer):
                result["status"] = "diverged"  # the epoch's last step overflowed
            if result["status"] == "diverged":
                status = "diverged"
                print(f"epoch {epoch}: the weights or the training loss ({result['loss']:.4g}) "
                      f"became non-finite; stopped. Try a lower LEARNING_RATE than "
                      f"{c['LEARNING_RATE']}.")
                break
            if result["status"] == "stopped":
                status = "stopped"
                if not history["epoch"]:  # no epoch finished: keep what training there was
                    best["params"] = utils.copy_params(params)
                break
            if len(X_val):
                val_loss, val_acc = utils.evaluate(params, X_val, y_val, activation)
            else:
                val_loss, val_acc = math.nan, math.nan
            seconds = time.perf_counter() - start
            for key, value in zip(history, (epoch, result["loss"], result["acc"], val_loss,
                                            val_acc, lr, seconds)):
                history[key].append(value)
            if not quiet:
                val = (f"val loss {val_loss:.4f} acc {val_acc:7.2%}" if len(X_val)
                       else "no validation rows")
                print(f"epoch {epoch:3d}/{c['EPOCHS']}  train loss {result['loss']:.4f} "
                      f"acc {result['acc']:7.2%}  {val}  lr {lr:.4g}  {seconds:5.1f}s", flush=True)
            key = (val_acc, -val_loss) if len(X_val) else (epoch,)
            if best["key"] is None or key > best["key"]:
                best.update(params=utils.copy_params(params), epoch=epoch, key=key)
            if c["PATIENCE"] and epoch - best["epoch"] >= c["PATIENCE"]:
                print(f"no better validation accuracy for {c['PATIENCE']} epochs: stopping early")
                break
    finally:
        signal.signal(signal.SIGINT, previous_handler)
    return best["params"], best["epoch"], history, status


class StopFlag:
    """Set by Ctrl-C during training, so the run stops after its current batch."""

    def __init__(self):
        self.set = False

    def __call__(self, signum, frame):
        print("\nCtrl-C: stopping after this batch (press again to abort at once)", flush=True)
        self.set = True
        signal.signal(signal.SIGINT, signal.default_int_handler)


def report_test(c, params, X_test, y_test, stem):
    """Score the kept params on the test set once; draw the confusion matrix and mistakes.

    For a test file without labels, write the predictions in Kaggle's
    submission format instead. Returns the test accuracy, or None.
    """
    Z = utils.predict_logits(params, X_test, c["ACTIVATION"])
    if y_test is None:
        path = os.path.join(c["RUNS_DIR"], f"{stem}-predictions.csv")
        runs.write_predictions(path, Z.argmax(axis=1))
        print(f"{c['TEST_CSV']} has no labels: no test accuracy; predictions written to {path}")
        print("no confusion matrix or mistakes picture without test labels")
        return None
    accuracy = utils.accuracy(Z, y_test)
    print(f"test accuracy {accuracy:.2%} ({c['TEST_CSV']}, {len(y_test)} rows)")
    C = utils.confusion_matrix(y_test, Z.argmax(axis=1), c["LAYERS"][-1])
    title = f"{stem}: test accuracy {accuracy:.2%}"
    plots.plot_confusion(C, title, os.path.join(c["IMAGES_DIR"], f"confusion-{stem}.png"))
    plots.plot_mistakes(X_test, y_test, utils.softmax(Z),
                        f"{stem}: the most confident mistakes on the test set",
                        os.path.join(c["IMAGES_DIR"], f"mistakes-{stem}.png"))
    return accuracy


def compare(c, split):
    """Train each architecture of COMPARE alike, then draw and tabulate them together."""
    results = {}
    for layers in c["COMPARE"]:
        results[runs.arch_name(layers)] = run(c, split, layers, quiet=True)
        if results[runs.arch_name(layers)]["status"] != "ok":
            break
    picture = os.path.join(c["IMAGES_DIR"], "compare.png")
    plots.plot_compare({k: r["history"] for k, r in results.items()}, picture)
    rows = ["| layers | parameters | training s | best val acc | test acc |",
            "| --- | ---: | ---: | ---: | ---: |"]
    for name, r in results.items():
        test = f"{r['test_accuracy']:.2%}" if r["test_accuracy"] is not None else "-"
        best_val = max(r["history"]["val_acc"], default=math.nan)
        rows.append(f"| {name} | {utils.count_params(r['layers']):,} | {r['train_seconds']:.1f} "
                    f"| {best_val:.2%} | {test} |")
    table = "\n".join(rows) + "\n"
    print(table, end="")
    path = os.path.join(c["IMAGES_DIR"], "compare.md")
    runs.save_atomic(path, lambda f: f.write(table.encode()))
    print(f"comparison saved to {picture} and {path}")
    return results


def predict(c):
    """Classify an image of one digit, or every row of a CSV, with saved weights."""
    weights = c["WEIGHTS"] or os.path.join(c["RUNS_DIR"], f"{runs.arch_name(c['LAYERS'])}.pkl")
    if not os.path.exists(weights):
        layers = repr(c["LAYERS"]).replace(" ", "")
        raise data.InputError(f"{weights}: no such weights file; train it first with: "
                              f"python main.py --LAYERS={layers}")
    saved = runs.load_weights(weights)
    params, activation = saved["params"], saved["config"].get("ACTIVATION", "relu")
    path = c["PREDICT"]
    name = os.path.basename(path)
    if name.lower().endswith((".csv", ".tsv", ".txt", ".gz", ".bz2", ".xz", ".zip")):
        X, y = data.load_csv(path, saved["layers"][-1] - 1)
        if X.shape[1] != saved["layers"][0]:
            raise data.InputError(f"{path}: has {X.shape[1]} pixel columns, "
                                  f"the network takes {saved['layers'][0]}")
        Z = utils.predict_logits(params, X, activation)
        packed = name.lower().endswith((".gz", ".bz2", ".xz", ".zip"))
        stem = os.path.splitext(os.path.splitext(name)[0] if packed else name)[0]
        out = os.path.join(c["RUNS_DIR"], f"{stem}-predictions.csv")
        runs.write_predictions(out, Z.argmax(axis=1))
        if y is not None:
            print(f"accuracy on {path}: {utils.accuracy(Z, y):.2%}")
        print(f"predictions for {len(X)} rows written to {out}")
        return
    image = digit.read_image(path)
    side = math.isqrt(saved["layers"][0])
    if side * side != saved["layers"][0]:
        raise data.InputError(f"{weights}: takes {saved['layers'][0]} inputs, not a square image")
    doubts = []
    try:
        x = digit.prepare_digit(image, side=side, box=round(side * 20 / 28), report=doubts.append)
    except ValueError as e:
        raise data.InputError(f"{path}: {e}") from None
    for doubt in doubts:
        print(f"warning: {path}: {doubt}", file=sys.stderr)
    P = utils.softmax(utils.predict_logits(params, x[None, :], activation))[0]
    print(f"{path} (weights {weights}):")
    for k in np.argsort(-P, kind="stable")[:3]:
        print(f"  {k}: {P[k]:.1%}")
    picture = os.path.join(os.path.dirname(weights), f"predicted-{os.path.splitext(name)[0]}.png")
    try:
        plots.plot_prediction(image, x, P, f"{name}, weights {os.path.basename(weights)}",
                              picture)
    except OSError as e:
        raise data.InputError(f"{picture}: cannot write what the network saw "
                              f"({e.strerror or e})") from None
    print(f"what the network saw: {picture}")


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except data.InputError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
