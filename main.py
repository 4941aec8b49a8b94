"""Train a deep fully-connected network on MNIST, from scratch in NumPy.

    python main.py                           # the default network: 98.87% in about 15 s
    python main.py "--LAYERS=[784,10,10]"    # try another architecture (quote [ ] for zsh)
    python main.py --EPOCHS=5 --LEARNING_RATE=0.1
    python main.py recipes/best.py           # a named recipe (NAME = value lines): 99.24%
    python main.py "--COMPARE=[[784,10,10],[784,256,10]]"   # train several, compare them
    python main.py --PREDICT=my_digit.png    # classify your own digit, training nothing
    python main.py --GRADCHECK               # is backward right? (finite differences)

    python main.py --RUNS                    # the log of every run so far, best first
    python main.py --help                    # every setting, its default and meaning

Every constant in the block below can be edited here or overridden on the
command line as --NAME=value, where value is a Python literal (a string may
go without quotes). A run prints a summary of the network, one line per
epoch, then the test accuracy, and writes everything into a folder of its
own, runs/<name>/, named after the settings that differ from these.
"""

import math
import os
import shlex
import signal
import sys
import time

try:
    import numpy as np

    import data
    import diagnostics
    import digit
    import machine
    import plots
    import runs
    import settings
    import utils
except KeyboardInterrupt:  # Ctrl-C while NumPy and pandas load: no traceback
    print("\ninterrupted", file=sys.stderr)
    sys.exit(130)

# ----------------------------------------------------------------------------
# data
TRAIN_CSV = "train.csv"      # label,pixel0..pixel783 per row
TEST_CSV = "test.csv"        # the same; used once, for the final report
VAL_FRACTION = 0.1           # share of the training rows held out for validation
# model
LAYERS = [784, 256, 128, 64, 10]  # widths from input to output
ACTIVATION = "relu"          # hidden layers: relu | leaky_relu | tanh | sigmoid
INIT = ""                    # he | glorot; "" picks the one that suits ACTIVATION
BATCH_NORM = False           # normalise each hidden layer's pre-activations over the batch
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
# machine
THREADS = 0                  # BLAS threads: 0 chooses from the CPUs other work leaves free
# output
RUNS_DIR = "runs"            # each run writes into RUNS_DIR/<name>/ (git-ignored)
NAME = ""                    # the run's folder name; "" names it after its settings
RUNS = False                 # True: print the log of every run so far, best first
RESUME = False               # True: continue the run of these settings from its checkpoint
# after training
COMPARE = []                 # e.g. [[784,10,10],{"BATCH_NORM": True}]: train each, compare
PREDICT = ""                 # an image or CSV to classify with saved weights
WEIGHTS = ""                 # weights for PREDICT; "" means those of the run of these settings
GRADCHECK = False            # True: check backward against finite differences, train nothing
# ----------------------------------------------------------------------------


DEFAULTS = {name: value for name, value in globals().items() if name.isupper()}
OUTPUTS = """Outputs: each run writes into RUNS_DIR/<name>/, where <name> is NAME or the
architecture and every setting that differs from the defaults above (e.g.
runs/784-256-128-64-10,OPTIMISER=adam/): settings.json, weights.pkl (the kept
epoch's weights, settings and history), curves.png, confusion.png and
mistakes.png (or predictions.csv for a test file without labels), layers.png,
activations.png and weights.png (inside the network), and while it trains
checkpoint.pkl, which --RESUME continues. Every run adds a row to
RUNS_DIR/log.csv; --RUNS prints it. Exit status: 0 done, 1 --GRADCHECK found a
wrong gradient, 2 bad input, 3 training diverged, 4 an output could not be
written where asked, 5 out of memory, 130 stopped by Ctrl-C, 143 by SIGTERM."""


def main(argv):
    """The story of a run: settings, data, training, test, weights, pictures."""
    if "--help" in argv or "-h" in argv:
        with open(__file__, encoding="utf-8") as f:
            print(settings.help_text(__doc__, f.read(), DEFAULTS, OUTPUTS), end="")
        return 0
    c = settings.configure(DEFAULTS, argv)
    settings.check(c)
    if c["RUNS"]:
        print(runs.read_log(c["RUNS_DIR"]))
        return 0
    if c["PREDICT"]:
        return predict(c, argv)
    if c["GRADCHECK"]:  # on a small float64 copy of the network and random rows: no data
        lines, ok = diagnostics.gradient_check(
            c["LAYERS"], c["ACTIVATION"], c["BATCH_NORM"], c["INIT"],
            settings.step_options(c)["dropout"], c["WEIGHT_DECAY"] * (c["OPTIMISER"] != "adamw"))
        print("\n".join(lines))
        return 0 if ok else 1
    runs.check_writable(c["RUNS_DIR"])
    entries = settings.compare_entries(c) if c["COMPARE"] else [("", c)]
    machine.check_memory(entries)
    runs.check_space(c["RUNS_DIR"], [config for _, config in entries])
    folders = [runs.run_folder(config, DEFAULTS) for _, config in entries]
    plans = [runs.resume_plan(folder, config, must=not c["COMPARE"]) if c["RESUME"] else None
             for (_, config), (folder, _) in zip(entries, folders)]
    if not c["RESUME"] and not any(a.startswith("--RESUME") for a in argv):  # nor said not to
        runs.refuse_to_replace_checkpoints([folder for folder, _ in folders])
    if plans[0] and plans == [("finished", plans[0][1])]:
        print(f"{folders[0][0]}: this run finished (test accuracy "
              f"{plans[0][1]['test_accuracy'] or 0:.2%}); nothing to resume")
        return 0
    threads = [machine.BlasThreads(config["THREADS"], plan and plan[0] == "resume"
                                   and plan[1].get("threads")) for (_, config), plan
               in zip(entries, plans)]  # they look at the load while the data loads
    start = time.perf_counter()
    split = data.load_data(c, [(label and f"COMPARE[{i}]" or "LAYERS", config)
                               for i, (label, config) in enumerate(entries)],
                           np.random.default_rng(c["SEED"]))
    print(f"loaded {c['TRAIN_CSV']} and {c['TEST_CSV']} in {time.perf_counter() - start:.1f}s")
    results = []
    try:
        for i, ((label, config), (folder, earlier), plan) in enumerate(zip(entries, folders,
                                                                           plans)):
            tag = f"[{i + 1}/{len(entries)} {label}] " if c["COMPARE"] else ""
            results.append(run(config, split, folder, earlier, tag, plan, threads[i]))
            if results[-1]["status"] != "finished":
                break
    except KeyboardInterrupt:  # a second Ctrl-C, or one while a run was writing its results
        if any(runs.has_checkpoint(f) for f, _ in folders):
            print(f"\ninterrupted; to continue: {resume_command(argv)}", file=sys.stderr)
            return 130
        raise
    if c["COMPARE"]:
        compare(c, [label for label, _ in entries], results)
    return ending(results, argv)


def resume_command(argv):
    """The command that continues this one from its checkpoints."""
    return " ".join(["python main.py", *(shlex.quote(a) for a in argv
                                         if not a.startswith("--RESUME")), "--RESUME"])


def ending(results, argv):
    """The exit status of the run(s), with a last word on a run that did not finish."""
    last = results[-1]
    resumable = runs.has_checkpoint(last["folder"])
    if last["status"] == "diverged":
        print(f"error: {last['folder']}: training diverged; start again with a lower "
              f"LEARNING_RATE than {last['config']['LEARNING_RATE']}", file=sys.stderr)
        return 3
    if last["status"] == "stopped":
        saved = "the best weights so far are saved; " if last["saved"] else ""
        print(f"stopped; {saved}" + (f"to continue: {resume_command(argv)}" if resumable else
                                      "no epoch had finished, so there is nothing to resume"))
        return 128 + (last.get("signum") or signal.SIGINT)  # 130 for Ctrl-C, 143 for SIGTERM
    return 4 if any(not r["written"] for r in results) else 0


def run(c, split, folder, earlier, tag="", plan=None, threads=None):
    """Train one network on the loaded data, test it, save it, draw it, log it.

    plan -- None, or what runs.resume_plan found: ("resume", checkpoint),
    ("finished", its saved result: kept as it is) or ("start", None).
    """
    X_train, y_train, X_val, y_val, X_test, y_test = split
    name = os.path.basename(folder)
    if plan and plan[0] == "finished":
        print(f"{tag}{folder}: finished earlier; kept")
        return {**plan[1], "written": True, "folder": folder, "saved": None}
    resume = plan[1] if plan and plan[0] == "resume" else None
    init = c["INIT"] or utils.default_init(c["ACTIVATION"])
    print(f"{tag}run {name}: {len(X_train)} train rows, {len(X_val)} validation rows\n"
          f"{diagnostics.model_summary(c['LAYERS'], c['ACTIVATION'], init, c['BATCH_NORM'])}\n"
          f"  {c['OPTIMISER']} optimiser, learning rate {c['LEARNING_RATE']} ({c['SCHEDULE']}), "
          f"{c['EPOCHS']} epoch{'s' * (c['EPOCHS'] != 1)} of batches of {c['BATCH_SIZE']}")
    if resume:
        print(f"{tag}resuming {name} at epoch {resume['epoch'] + 1} of {c['EPOCHS']}")
    elif earlier:
        print(f"{folder} holds an earlier run of these settings; this run replaces it if it "
              "finishes" + (" (its checkpoint is replaced as this run goes: --RESUME=False)"
                            if runs.has_checkpoint(folder) else ""))
    runs.start_folder(folder, c)
    if c["BATCH_SIZE"] > len(X_train):
        print(f"warning: BATCH_SIZE = {c['BATCH_SIZE']} is more than the {len(X_train)} training "
              "rows: each epoch is a single step over all of them")
    if c["PATIENCE"] and not len(X_val):
        print("warning: PATIENCE needs validation rows to watch; with none it never stops a run")
    rng = np.random.default_rng([c["SEED"], 1])  # the split used SEED's own stream
    try:
        result = train(c, X_train, y_train, X_val, y_val, rng, tag, folder, resume, threads)
    except BaseException:
        runs.abandon(folder)  # a run that saved nothing leaves no empty folder behind
        raise
    stop = StopFlag("writing this run's weights, pictures and log first").catch()
    kept = (f"the weights of epoch {result['best_epoch']}" if result["best_epoch"] else
            "the weights of the unfinished first epoch" if result["steps"] else "nothing")
    print(f"{tag}trained in {result['train_seconds']:.1f}s; keeping {kept}"
          + (" (best validation accuracy)" if len(X_val) and result["best_epoch"] else ""))
    Z = utils.predict_logits(result["params"], X_test, c["ACTIVATION"], stats=result["stats"])
    result["test_accuracy"] = (utils.accuracy(Z, y_test) if y_test is not None and result["steps"]
                               else None)
    if y_test is not None and result["steps"]:
        print(f"{tag}test accuracy {result['test_accuracy']:.2%} ({c['TEST_CSV']}, "
              f"{len(y_test)} rows)")
    path, note, result["written"] = runs.save_result(folder, result, result["chance"])
    result.update(folder=folder, saved=path)
    if not path or not result["written"]:
        print(note, file=sys.stderr if not result["written"] else sys.stdout)
    written = [path, runs.finish_folder(folder, c)]  # settings.json, again if deleted meanwhile
    if path and result["history"]["epoch"]:
        details = ", ".join(runs.differences(c, DEFAULTS)) or "the default settings"
        title = f"{c['NAME'] or runs.arch_name(c['LAYERS'])}: learning curves"
        written.append(plots.draw(os.path.join(folder, "curves.png"), plots.plot_history,
                                  result["history"], title, subtitle=details,
                                  kept_epoch=result["best_epoch"]))
        written += plots.inside_pictures(folder, title.removesuffix(": learning curves"),
                                         result["history"]["layers"], result["params"][0][0],
                                         c["ACTIVATION"], details, result["best_epoch"])
    if path and y_test is None:
        written.append(os.path.join(folder, "predictions.csv"))
        runs.write_predictions(written[-1], Z.argmax(axis=1), data.row_ids(c["TEST_CSV"]))
        print(f"{c['TEST_CSV']} has no labels: no test accuracy; predictions in {written[-1]}")
    elif path:
        written += plots.test_pictures(folder, "", f"{name}: test", X_test, y_test, Z)
    if result["status"] == "finished" and result["written"]:
        runs.remove(os.path.join(folder, "checkpoint.pkl"))  # nothing left to resume
    runs.append_log(c["RUNS_DIR"], runs.log_row(name, c, DEFAULTS, result))
    written.append(os.path.join(c["RUNS_DIR"], "log.csv"))
    print(f"{tag}wrote:\n" + "\n".join(f"  {p}" for p in written if p))
    stop.release()
    if stop.set:  # the results are whole; now stop as asked
        raise KeyboardInterrupt
    return result


HISTORY = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds", "threads")
# and history["layers"]: each layer's statistics (diagnostics.layer_stats) before training and
# after every epoch, computed on the probe's rows; read, never fed back into training


def setup(c, n_train, rng):
    """A run's starting weights, with BATCH_NORM (W, gamma, beta) for each hidden layer, and
    its learning rate per step, lr_at(step), from the settings."""
    init = c["INIT"] or utils.default_init(c["ACTIVATION"])
    smallest = 2 if c["BATCH_NORM"] else 1  # train_epoch skips a last batch of one BN row
    steps = n_train // c["BATCH_SIZE"] + (n_train % c["BATCH_SIZE"] >= smallest)
    return (utils.init_params(c["LAYERS"], rng, init, batch_norm=c["BATCH_NORM"]),
            settings.schedule(c, steps))


def train(c, X_train, y_train, X_val, y_val, rng, tag="", folder=None, resume=None,
          threads=None):
    """Train one network, epoch by epoch; return a result dict with the weights kept.

    Each epoch is utils.train_epoch, whose every batch is utils.train_step:
    forward, softmax_cross_entropy, backward, update. The weights kept are
    those of the epoch with the best validation accuracy (the test set is
    never looked at here). Training stops when it diverges, on Ctrl-C, or
    after PATIENCE epochs without a better validation accuracy. After each
    epoch, everything needed to continue (weights, optimiser state, the
    random generator's state, history, best epoch) goes to folder's
    checkpoint.pkl; resume, such a checkpoint, continues where it ended.
    threads -- a machine.BlasThreads, which sets the BLAS threads while training.
    """
    activation, layers = c["ACTIVATION"], c["LAYERS"]
    params, lr_at = setup(c, len(X_train), rng)
    stats = utils.init_stats(params)  # batch normalisation's running statistics, or None
    t = {"params": params, "stats": stats, "state": utils.init_state(params, c["OPTIMISER"]),
         "epoch": 0, "history": {"layers": [], **{k: [] for k in HISTORY}}, "seconds": 0.0,
         "best": {"params": utils.copy_params(params), "stats": utils.copy_params(stats),
                  "epoch": 0, "key": None, "steps": 0}}
    rows = data.fingerprint(X_train, y_train, X_val, y_val)  # which rows it trains on
    if resume and resume.get("rows", rows) != rows:
        raise data.InputError(f"{c['TRAIN_CSV']}: its rows are not those the checkpoint was "
                              "trained on (the file changed since, or another file has its "
                              "name): start over with --RESUME=False")
    if resume:
        t.update({k: resume[k] for k in t})
        rng.bit_generator.state = resume["rng"]
    params, stats, state, history, best = (t[k] for k in ("params", "stats", "state",
                                                          "history", "best"))
    threads = threads or machine.BlasThreads(c["THREADS"])
    labels = y_val if len(y_val) else y_train
    chance = np.bincount(labels).max() / len(labels)  # always answering the commonest class
    augment, stop, status, every = data.augmentation(c), StopFlag().catch(), "finished", 1
    started = time.perf_counter()
    threads.begin()
    print(f"{tag}{threads.describe()}")
    probe = diagnostics.probe(X_val, y_val, X_train, y_train)

    def look(before, epoch):  # each layer's figures on the probe (diagnostics.py)
        return diagnostics.layer_stats(params, *probe, activation, stats, before,
                                       lr_at(max(state["step"] - 1, 0)), c["OPTIMISER"],
                                       c["MOMENTUM"], epoch)

    history.setdefault("layers", [])  # a checkpoint written before the statistics has none
    if t["epoch"] == 0:
        history["layers"].append(look(None, 0))
    try:
        for epoch in range(t["epoch"] + 1, c["EPOCHS"] + 1):
            start, lr = time.perf_counter(), lr_at(state["step"])
            before = diagnostics.weights_of(params)  # how far will the epoch move W?
            result = utils.train_epoch(params, state, X_train, y_train, c["BATCH_SIZE"], rng,
                                       lr_at, augment, lambda: stop.set, stats=stats,
                                       **settings.step_options(c))
            val_loss, val_acc = math.nan, math.nan
            problem = diagnostics.diverged(result, params, history, layers[-1])
            if not problem and len(X_val):
                val_loss, val_acc = utils.evaluate(params, X_val, y_val, activation, stats=stats)
                problem = diagnostics.diverged({"loss": val_loss, "status": "ok"}, params, {}, layers[-1])
            if problem:
                status = "diverged"
                print(f"{tag}epoch {epoch}: {problem}: training diverged and stopped. "
                      f"Try a lower LEARNING_RATE than {c['LEARNING_RATE']}.")
                break
            if result["status"] == "stopped":
                status = "stopped"
                if not history["epoch"]:  # no epoch finished: keep what training there was
                    best.update(params=utils.copy_params(params), stats=utils.copy_params(stats),
                                steps=state["step"])
                break
            for key, value in zip(HISTORY, (epoch, result["loss"], result["acc"], val_loss,
                                            val_acc, lr, time.perf_counter() - start,
                                            threads.threads)):
                history[key].append(value)
            history["layers"].append(look(before, epoch))
            lowered = threads.epoch_done(history["seconds"][-1])
            key = (val_acc, -val_loss) if len(X_val) else (epoch,)
            if best["key"] is None or key > best["key"]:
                best.update(params=utils.copy_params(params), stats=utils.copy_params(stats),
                            epoch=epoch, key=key, steps=state["step"])
            t["epoch"] = epoch
            if folder and epoch % every == 0 and epoch < c["EPOCHS"]:
                every = runs.checkpoint(folder, {**t, "rng": rng.bit_generator.state,
                                                 "settings": runs.recorded(c), "rows": rows,
                                                 "threads": threads.threads},
                                        time.perf_counter() - started, every, history["seconds"][-1])
            print_epoch(c, tag, history, len(X_val))
            if epoch == 1:
                print_diagnosis(c, tag, history)
            if lowered:
                print(f"{tag}{lowered}")
            score = val_acc if len(X_val) else result["acc"]
            if epoch == 3 and score <= chance + 0.01:
                print(f"{tag}after 3 epochs the network is still at chance ({score:.2%}, the "
                      f"commonest class is {chance:.2%}): the learning rate may be far too high "
                      "or too low, a deep sigmoid or tanh network may have vanishing gradients "
                      "(try ACTIVATION=\"relu\"), or the labels may not match the pixels")
            if c["PATIENCE"] and epoch - best["epoch"] >= c["PATIENCE"]:
                print(f"{tag}no better validation accuracy for {c['PATIENCE']} epochs: "
                      "stopping early")
                break
    finally:
        threads.end()
        stop.release()
    if history["layers"] and history["layers"][-1]["epoch"] > 1:
        print_diagnosis(c, tag, history)
    return {"layers": list(layers), "params": best["params"], "stats": best["stats"],
            "config": dict(c),
            "history": history, "best_epoch": best["epoch"], "steps": best["steps"],
            "status": status, "chance": chance, "signum": stop.signum,
            "train_seconds": t["seconds"] + time.perf_counter() - started}


def print_epoch(c, tag, history, n_val):
    """One line for the epoch just finished: a full one, or a compact one in COMPARE."""
    h = {k: history[k][-1] for k in HISTORY}
    val = (f"val loss {h['val_loss']:.4f} acc {h['val_acc']:7.2%}" if n_val
           else "no validation rows")
    if tag:
        print(f"{tag}epoch {h['epoch']}/{c['EPOCHS']}  {val}  {h['seconds']:.1f}s", flush=True)
    else:
        print(f"epoch {h['epoch']:3d}/{c['EPOCHS']}  train loss {h['train_loss']:.4f} "
              f"acc {h['train_acc']:7.2%}  {val}  lr {h['lr']:<9.4g} {h['seconds']:5.1f}s",
              flush=True)


def print_diagnosis(c, tag, history):
    """What the layers' statistics so far say is wrong (diagnostics.diagnose): nothing if all
    is well."""
    for line in diagnostics.diagnose(history["layers"], c["ACTIVATION"], c["BATCH_NORM"]):
        print(f"{tag}after epoch {history['layers'][-1]['epoch']}: {line}")


class StopFlag:
    """Set by Ctrl-C (or SIGTERM) so that the run stops at the next safe point: after the
    current batch while training, after its results are written once trained."""

    def __init__(self, then="stopping after this batch"):
        self.set, self.then, self.signum, self.handlers = False, then, None, {}

    def catch(self):
        """Make Ctrl-C and SIGTERM set this flag (until release); returns self."""
        self.handlers = {sig: signal.signal(sig, self) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def release(self):
        """Give Ctrl-C and SIGTERM back the handlers they had before catch."""
        for sig, handler in self.handlers.items():
            signal.signal(sig, handler)

    def __call__(self, signum, frame):
        what = (f"Ctrl-C: {self.then} (press Ctrl-C again to abort at once)"
                if signum == signal.SIGINT else f"asked to stop: {self.then}")
        print(f"\n{what}", flush=True)
        self.set, self.signum = True, signum
        signal.signal(signal.SIGINT, signal.default_int_handler)


def compare(c, labels, results):
    """Draw and tabulate the networks of COMPARE together, in a folder of the comparison."""
    folder = runs.compare_folder(c, labels, DEFAULTS)
    table = runs.compare_table(labels, results)
    print(table, end="")
    path = os.path.join(folder, "compare.md")
    runs.save_atomic(path, lambda f: f.write(table.encode()))
    details = ", ".join(runs.differences(dict(c, COMPARE=[]), DEFAULTS)) or "default settings"
    picture = plots.draw(os.path.join(folder, "compare.png"), plots.plot_compare,
                         {label: r["history"] for label, r in zip(labels, results)},
                         title=f"compared with {details}", chance=results[0]["chance"])
    print("wrote:\n" + "\n".join(f"  {p}" for p in (path, picture) if p))


def predict(c, argv=()):
    """Classify an image of one digit, or every row of a CSV, with saved weights."""
    weights = c["WEIGHTS"] or os.path.join(runs.run_folder(c, DEFAULTS)[0], "weights.pkl")
    if not os.path.exists(weights) and c["WEIGHTS"]:
        raise data.no_such_file(weights, "weights file")
    if runs.has_checkpoint(os.path.dirname(weights)) and not \
            os.path.exists(weights):
        raise data.InputError(f"{os.path.dirname(weights)}: the run of these settings has no "
                              "weights yet: it is still training, or was stopped before its "
                              "first save (--RESUME continues it)")
    if not os.path.exists(weights):
        recipe = [a for a in argv if not a.startswith("--")]  # the recipe files given
        command = (" ".join(["python main.py", *recipe, *(a for a in argv if a.startswith("--")
                             and not a.startswith(("--PREDICT", "--WEIGHTS")))])
                   if recipe else settings.command(c, DEFAULTS))
        raise data.InputError(f"{weights}: no such weights file; train it first with: {command}")
    saved = runs.load_weights(weights)
    params, stats = saved["params"], saved["stats"]
    activation = saved["config"].get("ACTIVATION", "relu")
    network = {"LAYERS": saved["layers"], "ACTIVATION": activation,
               "BATCH_NORM": saved["config"].get("BATCH_NORM", False)}
    for key, value in network.items():  # the file defines the network, not the settings
        if c["WEIGHTS"] and c[key] != DEFAULTS[key] and c[key] != value:
            print(f"note: {key}={c[key]!r} ignored: {weights} holds a network "
                  f"with {key}={value!r}", file=sys.stderr)
    folder, path = os.path.dirname(weights), c["PREDICT"]
    name = os.path.basename(path)
    packed = name.lower().endswith((".gz", ".bz2", ".xz", ".zip"))
    stem, ext = os.path.splitext(os.path.splitext(name)[0] if packed else name)
    if ext.lower() != ".csv":  # paper7.jpg and paper7.png get outputs of their own
        stem = f"{stem}-{ext.lstrip('.').lower()}"
    if packed or name.lower().endswith((".csv", ".tsv", ".txt", *data.SPREADSHEETS)):
        X, y = data.load_csv(path, saved["layers"][-1] - 1)
        if X.shape[1] != saved["layers"][0]:
            raise data.InputError(f"{path}: has {X.shape[1]} pixel columns, "
                                  f"the network takes {saved['layers'][0]}")
        kind, phrase = data.looks_unlike_mnist(X)
        if kind:
            print(f"warning: {path}: {phrase}: a network trained on MNIST reads it poorly",
                  file=sys.stderr)
        Z = utils.predict_logits(params, X, activation, stats=stats)
        stem = runs.prediction_name(folder, path, stem)  # never another input's outputs
        ids, wanted = data.row_ids(path), os.path.join(folder, f"predictions-{stem}.csv")
        written = [wanted]
        written[0], failed = runs.save_or_spare(
            wanted, lambda p: runs.write_predictions(p, Z.argmax(axis=1), ids))
        if failed:
            print(f"warning: could not write {wanted} ({failed.strerror}); the predictions "
                  f"are in {written[0]}", file=sys.stderr)
        if y is not None:
            print(f"accuracy on {path}: {utils.accuracy(Z, y):.2%}")
            written += plots.test_pictures(folder, f"-{stem}", f"{stem} (weights {weights})",
                                           X, y, Z)
        print(f"predictions for {len(X)} row{'s' * (len(X) != 1)} written; wrote "
              + ", ".join(p for p in written if p))
        return 4 if failed else 0
    image = digit.read_image(path)
    side = math.isqrt(saved["layers"][0])
    if side * side != saved["layers"][0]:
        raise data.InputError(f"{weights}: takes {saved['layers'][0]} inputs, not a square image")
    doubts = []
    try:
        x = digit.prepare_digit(image, side=side, box=round(side * 20 / 28), report=doubts.append,
                                path=path)
    except ValueError as e:
        raise data.InputError(f"{path}: {e}") from None
    for doubt in doubts:
        print(f"warning: {path}: {doubt}", file=sys.stderr)
    P = utils.softmax(utils.predict_logits(params, x[None, :], activation, stats=stats))[0]
    print(f"{path} (weights {weights}):")
    for k in np.argsort(-P, kind="stable")[:3]:
        print(f"  {k}: {P[k]:.1%}")
    stem = runs.prediction_name(folder, path, stem)
    shown = os.path.join(os.path.basename(os.path.dirname(os.path.abspath(weights))),
                         os.path.basename(weights))  # the run's folder and the file
    picture = plots.draw(os.path.join(folder, f"predicted-{stem}.png"), plots.plot_prediction,
                         image, x, P, f"{name}, weights {shown}", size=digit.picture_size(path))
    if picture:
        print(f"what the network saw: {picture}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except data.InputError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except BrokenPipeError:  # the reader of the output went away (| head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)
    except OSError as e:  # a full disk or a folder that went away while writing
        where = f"{e.filename}: could not be written" if e.filename else "writing failed"
        print(f"error: {where} ({e.strerror or e})", file=sys.stderr)
        sys.exit(4)
    except MemoryError as e:  # what machine.check_memory's estimate did not foresee
        print(f"error: out of memory ({' '.join(str(e).split()) or 'MemoryError'}); try fewer "
              "or narrower LAYERS, or a smaller BATCH_SIZE", file=sys.stderr)
        sys.exit(5)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
