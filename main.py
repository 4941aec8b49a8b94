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

import os
import sys
import time

try:
    import numpy as np

    import console
    import data
    import diagnostics
    import live
    import machine
    import plots
    import predict
    import progress
    import runs
    import settings
    import stopping
    import utils
    from augment import augmentation
except KeyboardInterrupt:  # Ctrl-C while NumPy and pandas load: no traceback
    print("\ninterrupted", file=sys.stderr)
    sys.exit(130)

# ----------------------------------------------------------------------------
# data
TRAIN_CSV = "train.csv"      # label,pixel0..pixel783 per row
TEST_CSV = "test.csv"        # the same; used once, for the final report (also IDX, .npz, a folder)
TRAIN_LABELS = ""            # the labels of IDX images; "" finds them beside the images
TEST_LABELS = ""             # the same for the test file
TRANSPOSED = ""              # files stored transposed (EMNIST's): "train", "test" or "both"
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
ELASTIC_ALPHA = 0.0          # augmentation: elastic distortions of this size, in pixels; 0 is off
ELASTIC_SIGMA = 6.0          # their smoothness: the Gaussian's width in pixels (Ciresan: 6)
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
PREDICT = ""                 # a picture, a data file, or a folder or *.png pattern to classify
WEIGHTS = ""                 # weights for PREDICT ("": this run's); a list of files: a committee
GRADCHECK = False            # True: check backward against finite differences, train nothing
LIVE = False                 # True: watch it learn in a browser (docs/live.md); with WEIGHTS, a finished run
LIVE_PORT = 8000             # the live page's port; the next free one if it is taken
LIVE_HOST = "127.0.0.1"      # where the live page listens; any other address lets others stop the run
# ----------------------------------------------------------------------------


DEFAULTS = {name: value for name, value in globals().items() if name.isupper()}


def main(argv):
    """The story of a run: settings, data, training, test, weights, pictures."""
    console.protect_output()  # a file name the terminal's encoding lacks prints as escapes
    if "--help" in argv or "-h" in argv:
        with open(__file__, encoding="utf-8") as f:
            print(settings.help_text(__doc__, f.read(), DEFAULTS), end="")
        return 0
    c = settings.configure(DEFAULTS, argv)
    settings.check(c, argv=argv)
    if c["RUNS"]:
        print(runs.read_log(c["RUNS_DIR"]))
        return 0
    if c["PREDICT"]:
        return predict.predict(c, settings.SHIPPED, argv)
    if c["GRADCHECK"]:  # on a small float64 copy of the network and random rows: no data
        return diagnostics.check_gradients_of(c, settings.step_options(c)["dropout"])
    if c["LIVE"] and c["WEIGHTS"]:  # a finished run's page, without training
        return live.show_weights(c, c["WEIGHTS"], runs.load_weights)
    entries = settings.compare_entries(c) if c["COMPARE"] else [("", c)]
    folders, plans = runs.plan(c, entries, settings.SHIPPED, argv)  # where each run writes; --RESUME
    if plans[0] and plans == [("finished", plans[0][1])]:
        print(f"{folders[0][0]}: this run finished (test accuracy "
              f"{plans[0][1]['test_accuracy'] or 0:.2%}); nothing to resume")
        return 0
    machine.keep_freed_memory()  # each batch reuses the last one's memory (machine.py)
    threads = [machine.BlasThreads(config["THREADS"], plan and plan[0] == "resume"
                                   and plan[1].get("threads"))
               for (_, config), plan in zip(entries, plans)]  # they watch the load meanwhile
    start = time.perf_counter()
    split = data.load_data(settings.located(c), [(label and f"COMPARE[{i}]" or "LAYERS", config)
                               for i, (label, config) in enumerate(entries)],
                           np.random.default_rng(c["SEED"]))
    print(f"loaded {c['TRAIN_CSV']} and {c['TEST_CSV']} in {time.perf_counter() - start:.1f}s")
    views = [progress.Progress(), *live.watchers(c)]  # watchers that outlive one network
    results = []
    try:
        for i, ((label, config), (folder, earlier), plan) in enumerate(zip(entries, folders,
                                                                           plans)):
            tag = f"[{i + 1}/{len(entries)} {label}] " if c["COMPARE"] else ""
            results.append(run(config, split, folder, earlier, tag, plan, threads[i], label,
                               views))
            if results[-1]["status"] != "finished":
                break
    except KeyboardInterrupt as e:  # a second Ctrl-C, or a stop while a run wrote its results
        if any(runs.has_checkpoint(f) for f, _ in folders):
            print(f"\ninterrupted; to continue: {stopping.resume_command(argv)}",
                  file=sys.stderr)
            return stopping.interrupted_status(e)
        raise
    if c["COMPARE"]:
        plots.write_comparison(c, [label for label, _ in entries], results, settings.SHIPPED)
    status = stopping.exit_status(results, argv)
    live.linger(views, results)  # the live page stays until Ctrl-C
    return status


def run(c, split, folder, earlier, tag="", plan=None, threads=None, label="", views=()):
    """Train one network on the loaded data, test it, save it, draw it, log it.

    plan -- None, or what runs.plan found for --RESUME: ("resume",
    checkpoint), ("finished", its saved result: kept as it is) or ("start", None).
    views -- watchers of the training loop besides the epoch's report (see notify).
    """
    X_train, y_train, X_val, y_val, X_test, y_test = split
    if plan and plan[0] == "finished":
        print(f"{tag}{folder}: finished earlier; kept")
        return {**plan[1], "written": True, "folder": folder, "saved": None}
    resume = plan[1] if plan and plan[0] == "resume" else None
    print(tag + diagnostics.run_summary(c, os.path.basename(folder), len(X_train), len(X_val)))
    runs.start_run(folder, c, earlier, resume, tag)
    watchers = [diagnostics.Report(c, tag, len(X_val)), *views]
    rng = np.random.default_rng([c["SEED"], 1])  # the split used SEED's own stream
    try:
        result = train(c, X_train, y_train, X_val, y_val, rng, tag, folder, resume, threads,
                       watchers, label)
    except BaseException:
        runs.abandon(folder)  # a run that saved nothing leaves no empty folder behind
        raise
    result["classes"] = getattr(split, "classes", None)  # the class names, kept in the weights
    # a stop asked for from here on waits until the results are whole, then acts with the
    # signal's exit status (stopping.finishing)
    with stopping.finishing("writing this run's weights, pictures and log first"):
        kept = (f"the weights of epoch {result['best_epoch']}" if result["best_epoch"] else
                "the weights of the unfinished first epoch" if result["steps"] else "nothing")
        print(f"{tag}trained in {result['train_seconds']:.1f}s; keeping {kept}"
              + (" (best validation accuracy)" if len(X_val) and result["best_epoch"] else ""))
        # the test set, once, for the report: nothing above looked at it
        Z = utils.predict_logits(result["params"], X_test, c["ACTIVATION"], stats=result["stats"])
        tested = y_test is not None and result["steps"]
        result["test_accuracy"] = utils.accuracy(Z, y_test) if tested else None
        if tested:
            print(f"{tag}test accuracy {result['test_accuracy']:.2%} ({c['TEST_CSV']}, "
                  f"{len(y_test)} rows)")
        written = runs.save_run(folder, c, result, settings.SHIPPED)  # weights.pkl, settings.json
        if result["saved"]:
            written += plots.run_pictures(folder, c, result, runs.details(c, settings.SHIPPED),
                                          X_test, y_test, Z)
        runs.finish_run(folder, c, result, Z, y_test, written, settings.SHIPPED, tag)  # log.csv
        notify(watchers, "end", result)
    return result


HISTORY = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds", "threads")
# and history["layers"]: each layer's statistics (diagnostics.layer_stats) before training and
# after every epoch, computed on the probe's rows; read, never fed back into training; and
# history["diagnosis"]: what those statistics say is wrong, in plain words (diagnostics.diagnose)


def setup(c, n_train, rng):
    """A run's starting weights, with BATCH_NORM {W, gamma, beta} for each hidden layer, and
    its learning rate per step, lr_at(step), from the settings."""
    init = c["INIT"] or utils.default_init(c["ACTIVATION"])
    smallest = 2 if c["BATCH_NORM"] else 1  # train_epoch skips a last batch of one BN row
    steps = n_train // c["BATCH_SIZE"] + (n_train % c["BATCH_SIZE"] >= smallest)
    return (utils.init_params(c["LAYERS"], rng, init, batch_norm=c["BATCH_NORM"]),
            settings.schedule(c, steps))


def train(c, X_train, y_train, X_val, y_val, rng, tag="", folder=None, resume=None,
          threads=None, watchers=(), label=""):
    """Train one network, epoch by epoch; return a result dict with the weights kept.

    Each epoch is utils.train_epoch, whose every batch is utils.train_step:
    forward, softmax_cross_entropy, backward, update. The weights kept are
    those of the epoch with the best validation accuracy (the test set is
    never looked at here). Training stops when it diverges, on Ctrl-C, or
    after PATIENCE epochs without a better validation accuracy. After each
    epoch the watchers are told (main.py's notify): one writes the
    checkpoint that --RESUME continues from (resume is such a checkpoint),
    one prints the epoch's line. threads -- a machine.BlasThreads.
    """
    params, lr_at = setup(c, len(X_train), rng)
    rows = data.fingerprint(X_train, y_train, X_val, y_val)  # which rows it trains on
    t = runs.training_state(c, params, {k: [] for k in (*HISTORY, "layers", "diagnosis")},
                            resume, rng, rows)
    params, stats, state, history, best = (t[k] for k in ("params", "stats", "state",
                                                          "history", "best"))
    threads = threads or machine.BlasThreads(c["THREADS"])
    stop, augment, dropout = (stopping.StopFlag().catch(),
                               augmentation(data.in_proportion(c, X_train.shape[1])),
                               settings.step_options(c)["dropout"])
    probe = diagnostics.probe(X_val, y_val, X_train, y_train)
    chance = diagnostics.chance(y_val if len(y_val) else y_train)  # the commonest class's share

    def look(before, epoch):  # each layer's figures on the probe (diagnostics.py)
        return diagnostics.layer_stats(params, *probe, c["ACTIVATION"], stats, before,
                                       lr_at(max(state["step"] - 1, 0)), c["OPTIMISER"],
                                       c["MOMENTUM"], epoch)

    watchers = [runs.Checkpoints(folder, c, t, rng, threads, rows), *watchers]
    notify(watchers, "begin", {
        "config": c, "label": label, "folder": folder, "params": params, "stats": stats,
        "history": history, "stop": stop, "threads": threads, "n_train": len(X_train),
        "X_val": X_val, "y_val": y_val, "epochs": c["EPOCHS"],
        "chance": chance, "steps_per_epoch": -(-len(X_train) // c["BATCH_SIZE"])})
    status, started = "finished", time.perf_counter()
    threads.begin()
    print(f"{tag}{threads.describe()}")
    if t["epoch"] == 0:
        history["layers"].append(look(None, 0))
    last = t["epoch"] if runs.training_done(c, t) else c["EPOCHS"]  # resumed after the end
    try:
        for epoch in range(t["epoch"] + 1, last + 1):
            start, lr, before = time.perf_counter(), lr_at(state["step"]), diagnostics.weights_of(params)
            result = utils.train_epoch(
                params, state, X_train, y_train, c["BATCH_SIZE"], rng, lr_at, augment,
                lambda done, total, loss: notify(watchers, "step", done, total, loss) or stop.set,
                activation=c["ACTIVATION"], dropout=dropout, weight_decay=c["WEIGHT_DECAY"],
                optimiser=c["OPTIMISER"], momentum=c["MOMENTUM"], max_norm_c=c["MAX_NORM"],
                stats=stats)
            val_loss, val_acc, problem = diagnostics.validate(result, params, stats, history,
                                                              X_val, y_val, c["ACTIVATION"])
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
            threads.epoch_done(history["seconds"][-1])  # fewer BLAS threads if others came
            history["diagnosis"] = diagnostics.diagnose(history["layers"], c["ACTIVATION"],
                                                        c["BATCH_NORM"])
            key = (val_acc, -val_loss) if len(X_val) else (epoch,)
            if best["key"] is None or key > best["key"]:  # the best epoch yet: keep it
                best.update(params=utils.copy_params(params), stats=utils.copy_params(stats),
                            epoch=epoch, key=key, steps=state["step"])
            t["epoch"] = epoch
            notify(watchers, "epoch", history)  # checkpoint, the epoch's line, the live view
            if epoch < c["EPOCHS"] and runs.training_done(c, t):  # PATIENCE ran out
                print(f"{tag}no better validation accuracy for {c['PATIENCE']} epochs: "
                      "stopping early")
                break
    finally:
        threads.end()
        stop.release()
    diagnostics.print_diagnosis(tag, history, last=True)
    return {"layers": list(c["LAYERS"]), "params": best["params"], "stats": best["stats"],
            "config": dict(c), "history": history, "best_epoch": best["epoch"],
            "steps": best["steps"], "status": status, "signum": stop.signum,
            "chance": chance, "train_seconds": t["seconds"] + time.perf_counter() - started}


def notify(watchers, event, *args):
    """Call each watcher's method of this name, if it has one (see docs/code.md, "Watchers").

    A watcher that fails is dropped with one warning line: it never ends the run.
    """
    for watcher in list(watchers):
        method = getattr(watcher, event, None)
        try:
            if method:
                method(*args)
        except Exception as e:  # noqa: BLE001 -- a view of the run must not end it
            print(f"warning: {type(watcher).__name__} failed ({type(e).__name__}: {e}); "
                  "the run goes on without it", file=sys.stderr)
            watchers.remove(watcher)


if __name__ == "__main__":
    sys.exit(stopping.exit_code(main, sys.argv[1:]))
