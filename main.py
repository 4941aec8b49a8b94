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

import ast
import math
import os
import signal
import sys
import time

import numpy as np

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

CONFIG_NAMES = [name for name in list(globals()) if name.isupper() and name != "CONFIG_NAMES"]
ALSO_ACCEPTS = {"DROPOUT": (list,)}  # beyond the type of the default
OPTIMISERS = ("sgd", "momentum", "nesterov", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine")


def parse_value(name, text, default):
    """Turn the text of an override into a value of the default's type, or fail."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        if not isinstance(default, str):
            raise utils.InputError(
                f"--{name}={text}: not a Python literal (expected a {type(default).__name__})"
            ) from None
        value = text  # a bare string, as in --OPTIMISER=adam
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    allowed = (type(default), *ALSO_ACCEPTS.get(name, ()))
    if type(value) not in allowed:
        raise utils.InputError(
            f"--{name}={text}: expected {' or '.join(t.__name__ for t in allowed)}, "
            f"got {type(value).__name__}"
        )
    return value


def read_recipe(path):
    """Read a recipe: a file of NAME = literal lines, parsed, never executed."""
    try:
        with open(path, encoding="utf-8") as f:
            source = f.read()
        tree = ast.parse(source, filename=path)
    except OSError as e:
        raise utils.InputError(f"{path}: cannot read the recipe ({e.strerror})") from None
    except (UnicodeDecodeError, ValueError):
        raise utils.InputError(f"{path}: not a UTF-8 text file") from None
    except SyntaxError as e:
        raise utils.InputError(f"{path}: line {e.lineno}: not valid Python ({e.msg})") from None
    pairs = []
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            raise utils.InputError(f"{path}: line {node.lineno}: only NAME = value lines are allowed")
        pairs.append((node.targets[0].id, ast.get_source_segment(source, node.value)))
    return pairs


def configure(argv):
    """The constants above, then recipe files and --NAME=value overrides, in order.

    Each change is printed; an unknown name or a value of the wrong type is an
    InputError.
    """
    config = {name: globals()[name] for name in CONFIG_NAMES}
    for arg in argv:
        if arg.startswith("--"):
            name, sep, text = arg[2:].partition("=")
            if not sep:
                raise utils.InputError(f"{arg}: expected --NAME=value")
            changes, source = [(name, text)], "override"
        elif arg.endswith(".py"):
            changes, source = read_recipe(arg), arg
        else:
            raise utils.InputError(f"{arg}: expected --NAME=value or a recipe file ending in .py")
        for name, text in changes:
            if name not in config:
                raise utils.InputError(f"{source}: {name} is not a setting (see the top of main.py)")
            config[name] = parse_value(name, text, config[name])
            print(f"{source}: {name} = {config[name]!r}")
    return config


def check_config(c):
    """Refuse settings that cannot work, with a one-line InputError."""
    layers = c["LAYERS"]

    def need(ok, message):
        if not ok:
            raise utils.InputError(message)

    for key in ["LAYERS", *([f"COMPARE[{i}]" for i in range(len(c["COMPARE"]))])]:
        arch = layers if key == "LAYERS" else c["COMPARE"][int(key[8:-1])]
        need(isinstance(arch, list) and len(arch) >= 2,
             f"{key} = {arch!r}: needs at least two layers (input and output)")
        need(all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in arch),
             f"{key} = {arch!r}: every width must be a whole number >= 1")
    need(c["EPOCHS"] >= 1, f"EPOCHS = {c['EPOCHS']}: must be at least 1")
    need(c["BATCH_SIZE"] >= 1, f"BATCH_SIZE = {c['BATCH_SIZE']}: must be at least 1")
    need(c["LEARNING_RATE"] > 0 and math.isfinite(c["LEARNING_RATE"]),
         f"LEARNING_RATE = {c['LEARNING_RATE']}: must be a number > 0")
    need(0 <= c["VAL_FRACTION"] < 1, f"VAL_FRACTION = {c['VAL_FRACTION']}: must be in [0, 1)")
    need(0 <= c["MOMENTUM"] < 1, f"MOMENTUM = {c['MOMENTUM']}: must be in [0, 1)")
    need(c["WEIGHT_DECAY"] >= 0, f"WEIGHT_DECAY = {c['WEIGHT_DECAY']}: must be >= 0")
    need(c["MAX_NORM"] >= 0, f"MAX_NORM = {c['MAX_NORM']}: must be >= 0 (0 is off)")
    need(c["MAX_SHIFT"] >= 0, f"MAX_SHIFT = {c['MAX_SHIFT']}: must be >= 0 (0 is off)")
    need(0 <= c["MAX_ROTATE"] <= 180, f"MAX_ROTATE = {c['MAX_ROTATE']}: must be in [0, 180]")
    need(0 <= c["MAX_SCALE"] < 1, f"MAX_SCALE = {c['MAX_SCALE']}: must be in [0, 1)")
    need(c["PATIENCE"] >= 0, f"PATIENCE = {c['PATIENCE']}: must be >= 0 (0 is off)")
    need(0 <= c["WARMUP_EPOCHS"] <= c["EPOCHS"],
         f"WARMUP_EPOCHS = {c['WARMUP_EPOCHS']}: must be in [0, EPOCHS]")
    need(c["STEP_EPOCHS"] >= 1, f"STEP_EPOCHS = {c['STEP_EPOCHS']}: must be at least 1")
    need(0 < c["STEP_GAMMA"] <= 1, f"STEP_GAMMA = {c['STEP_GAMMA']}: must be in (0, 1]")
    need(c["ACTIVATION"] in utils.ACTIVATIONS,
         f"ACTIVATION = {c['ACTIVATION']!r}: one of {', '.join(utils.ACTIVATIONS)}")
    need(c["OPTIMISER"] in OPTIMISERS, f"OPTIMISER = {c['OPTIMISER']!r}: one of {', '.join(OPTIMISERS)}")
    need(c["SCHEDULE"] in SCHEDULES, f"SCHEDULE = {c['SCHEDULE']!r}: one of {', '.join(SCHEDULES)}")
    need(c["INIT"] in ("", "he", "glorot"), f"INIT = {c['INIT']!r}: one of he, glorot, or \"\"")
    rates = dropout_rates(c["DROPOUT"], layers)
    need(all(isinstance(p, (int, float)) and 0 <= p < 1 for p in rates),
         f"DROPOUT = {c['DROPOUT']!r}: rates must be in [0, 1)")
    need(len(rates) == len(layers) - 2,
         f"DROPOUT = {c['DROPOUT']!r}: a list needs one rate per hidden layer ({len(layers) - 2})")


def dropout_rates(dropout, layers):
    """One dropout rate per hidden layer, from a single rate or a list."""
    return list(dropout) if isinstance(dropout, list) else [dropout] * (len(layers) - 2)


def load_data(c, rng):
    """Load and check both CSVs against the networks to train, and hold out the validation rows."""
    archs = [(f"COMPARE[{i}]", a) for i, a in enumerate(c["COMPARE"])] or [("LAYERS", c["LAYERS"])]
    name, outputs = min(((k, a[-1]) for k, a in archs), key=lambda pair: pair[1])
    note = f" ({name}[-1] = {outputs}: the network has {outputs} classes)"
    X, y = utils.load_csv(c["TRAIN_CSV"], outputs - 1, note)
    if y is None:
        raise utils.InputError(f"{c['TRAIN_CSV']}: line 1: the training file needs a 'label' column")
    for name, arch in archs:
        if arch[0] != X.shape[1]:
            raise utils.InputError(
                f"{c['TRAIN_CSV']}: has {X.shape[1]} pixel columns but {name}[0] is {arch[0]}"
            )
    X_test, y_test = utils.load_csv(c["TEST_CSV"], outputs - 1, note)
    if X_test.shape[1] != X.shape[1]:
        raise utils.InputError(
            f"{c['TEST_CSV']}: has {X_test.shape[1]} pixel columns, {c['TRAIN_CSV']} has {X.shape[1]}"
        )
    side = math.isqrt(X.shape[1])
    if augmentation(c) and side * side != X.shape[1]:
        raise utils.InputError(f"{c['TRAIN_CSV']}: augmentation needs square images, "
                               f"not {X.shape[1]} pixels")
    n_val = round(c["VAL_FRACTION"] * len(X))
    if (c["VAL_FRACTION"] > 0 and n_val < 1) or len(X) - n_val < 1:
        raise utils.InputError(
            f"{c['TRAIN_CSV']}: {len(X)} row(s) are too few to hold out "
            f"VAL_FRACTION = {c['VAL_FRACTION']} and train on the rest"
        )
    X_train, y_train, X_val, y_val = utils.split_validation(X, y, c["VAL_FRACTION"], rng)
    return X_train, y_train, X_val, y_val, X_test, y_test


def augmentation(c):
    """The augmentation the settings ask for, as a function (X, rng) -> X, or None.

    Whole-pixel shifts alone take the cheap exact path; rotations or
    scalings take the bilinear affine one.
    """
    if c["MAX_ROTATE"] or c["MAX_SCALE"]:
        return lambda X, rng: utils.random_affine(X, c["MAX_SHIFT"], c["MAX_ROTATE"],
                                                  c["MAX_SCALE"], rng)
    if c["MAX_SHIFT"]:
        return lambda X, rng: utils.random_shift(X, c["MAX_SHIFT"], rng)
    return None


class StopFlag:
    """Set by Ctrl-C during training, so the run stops after its current batch."""

    def __init__(self):
        self.set = False

    def __call__(self, signum, frame):
        print("\nCtrl-C: stopping after this batch (press again to abort at once)", flush=True)
        self.set = True
        signal.signal(signal.SIGINT, signal.default_int_handler)


def train(c, layers, X_train, y_train, X_val, y_val, rng, quiet=False):
    """Train one network; return its best params, history and how training ended."""
    activation = c["ACTIVATION"]
    params = utils.init_params(layers, rng, c["INIT"] or utils.default_init(activation))
    state = utils.init_state(params, c["OPTIMISER"])
    steps_per_epoch = math.ceil(len(X_train) / c["BATCH_SIZE"])
    total_steps = c["EPOCHS"] * steps_per_epoch

    def lr_at(step):
        return utils.learning_rate(step, total_steps, c["LEARNING_RATE"], c["SCHEDULE"],
                                   round(c["WARMUP_EPOCHS"] * steps_per_epoch),
                                   c["STEP_EPOCHS"] * steps_per_epoch, c["STEP_GAMMA"])

    rates = [float(p) for p in dropout_rates(c["DROPOUT"], layers)]
    options = {"activation": activation, "weight_decay": c["WEIGHT_DECAY"],
               "optimiser": c["OPTIMISER"], "momentum": c["MOMENTUM"],
               "max_norm_c": c["MAX_NORM"], "dropout": rates if any(rates) else None}
    history = {k: [] for k in ("epoch", "train_loss", "train_acc", "val_loss", "val_acc",
                               "lr", "seconds")}
    best = {"params": utils.copy_params(params), "epoch": 0, "key": None}
    augment = augmentation(c)
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


def report_test(c, params, X_test, y_test, stem):
    """Score the kept params on the test set once; draw the confusion matrix and mistakes.

    For a test file without labels, write the predictions in Kaggle's
    submission format instead. Returns the test accuracy, or None.
    """
    Z = utils.predict_logits(params, X_test, c["ACTIVATION"])
    if y_test is None:
        path = os.path.join(c["RUNS_DIR"], f"{stem}-predictions.csv")
        write_predictions(path, Z.argmax(axis=1))
        print(f"{c['TEST_CSV']} has no labels: no test accuracy; predictions written to {path}")
        print("no confusion matrix or mistakes picture without test labels")
        return None
    accuracy = utils.accuracy(Z, y_test)
    print(f"test accuracy {accuracy:.2%} ({c['TEST_CSV']}, {len(y_test)} rows)")
    C = utils.confusion_matrix(y_test, Z.argmax(axis=1), c["LAYERS"][-1])
    title = f"{stem}: test accuracy {accuracy:.2%}"
    utils.plot_confusion(C, title, os.path.join(c["IMAGES_DIR"], f"confusion-{stem}.png"))
    utils.plot_mistakes(X_test, y_test, utils.softmax(Z),
                        f"{stem}: the most confident mistakes on the test set",
                        os.path.join(c["IMAGES_DIR"], f"mistakes-{stem}.png"))
    return accuracy


def write_predictions(path, labels):
    """Write predicted labels as Kaggle's submission CSV: ImageId,Label, ImageId from 1."""
    lines = ["ImageId,Label"] + [f"{i},{label}" for i, label in enumerate(labels, start=1)]
    utils.save_atomic(path, lambda f: f.write(("\n".join(lines) + "\n").encode()))


def run(c, data, layers, quiet=False):
    """Train one architecture on the loaded data, report, save and plot it."""
    X_train, y_train, X_val, y_val, X_test, y_test = data
    rng = np.random.default_rng([c["SEED"], 1])  # the split used SEED's own stream
    stem = utils.arch_name(layers)
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
    utils.save_weights(path, result)
    print(f"weights saved to {path}")
    if history["epoch"]:
        picture = os.path.join(c["IMAGES_DIR"], f"curves-{stem}.png")
        utils.plot_history(history, f"{stem}: learning curves", picture)
        print(f"learning curves saved to {picture}")
    return result


def compare(c, data):
    """Train each architecture of COMPARE alike, then draw and tabulate them together."""
    results = {}
    for layers in c["COMPARE"]:
        results[utils.arch_name(layers)] = run(c, data, layers, quiet=True)
        if results[utils.arch_name(layers)]["status"] != "ok":
            break
    picture = os.path.join(c["IMAGES_DIR"], "compare.png")
    utils.plot_compare({k: r["history"] for k, r in results.items()}, picture)
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
    utils.save_atomic(path, lambda f: f.write(table.encode()))
    print(f"comparison saved to {picture} and {path}")
    return results


def predict(c):
    """Classify an image of one digit, or every row of a CSV, with saved weights."""
    weights = c["WEIGHTS"] or os.path.join(c["RUNS_DIR"], f"{utils.arch_name(c['LAYERS'])}.pkl")
    if not os.path.exists(weights):
        layers = repr(c["LAYERS"]).replace(" ", "")
        raise utils.InputError(f"{weights}: no such weights file; train it first with: "
                               f"python main.py --LAYERS={layers}")
    saved = utils.load_weights(weights)
    params, activation = saved["params"], saved["config"].get("ACTIVATION", "relu")
    path = c["PREDICT"]
    if path.lower().endswith(".csv"):
        X, y = utils.load_csv(path, saved["layers"][-1] - 1)
        if X.shape[1] != saved["layers"][0]:
            raise utils.InputError(f"{path}: has {X.shape[1]} pixel columns, "
                                   f"the network takes {saved['layers'][0]}")
        Z = utils.predict_logits(params, X, activation)
        out = os.path.join(c["RUNS_DIR"], f"{os.path.splitext(os.path.basename(path))[0]}"
                                          "-predictions.csv")
        write_predictions(out, Z.argmax(axis=1))
        if y is not None:
            print(f"accuracy on {path}: {utils.accuracy(Z, y):.2%}")
        print(f"predictions for {len(X)} rows written to {out}")
        return
    image = read_image(path)
    side = math.isqrt(saved["layers"][0])
    if side * side != saved["layers"][0]:
        raise utils.InputError(f"{weights}: takes {saved['layers'][0]} inputs, not a square image")
    try:
        x = utils.prepare_digit(image, side=side, box=round(side * 20 / 28))
    except ValueError as e:
        raise utils.InputError(f"{path}: {e}") from None
    P = utils.softmax(utils.predict_logits(params, x[None, :], activation))[0]
    print(f"{path} (weights {weights}):")
    for k in np.argsort(-P, kind="stable")[:3]:
        print(f"  {k}: {P[k]:.1%}")


def read_image(path):
    """Read a PNG or JPEG with matplotlib, or raise a one-line InputError."""
    import matplotlib.image

    if not os.path.exists(path):
        raise utils.InputError(f"{path}: no such file")
    try:
        image = matplotlib.image.imread(path)
    except Exception as e:  # noqa: BLE001 -- Pillow raises many kinds for a bad file
        raise utils.InputError(f"{path}: not a readable PNG or JPEG image ({e})") from None
    if image.ndim not in (2, 3) or min(image.shape[:2]) < 1:
        raise utils.InputError(f"{path}: not a picture of one digit (shape {image.shape})")
    return image


def main(argv):
    """The story of a run: settings, data, training, test, weights, pictures."""
    c = configure(argv)
    check_config(c)
    if c["PREDICT"]:
        predict(c)
        return 0
    start = time.perf_counter()
    data = load_data(c, np.random.default_rng(c["SEED"]))
    print(f"loaded {c['TRAIN_CSV']} and {c['TEST_CSV']} in {time.perf_counter() - start:.1f}s")
    results = compare(c, data) if c["COMPARE"] else {"": run(c, data, c["LAYERS"])}
    statuses = {r["status"] for r in results.values()}
    if "diverged" in statuses:
        return 3
    if "stopped" in statuses:
        print("stopped by Ctrl-C; the best weights and the curves so far are saved")
        return 130
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except utils.InputError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
