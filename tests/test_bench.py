"""Smoke tests of the benchmarks: bench.py on a tiny run ends with a sound headline and
every table, and its parts work alone; photos.py prints its table.

The smoke test runs the script as a user would (--quick, without PyTorch and
scikit-learn, which CI does not install); the other tests import it and try
the time-to-accuracy arithmetic, the side-by-side race and each contestant
on a few hundred rows. The PyTorch and scikit-learn tests are skipped where
those are not installed. No test asserts a timing.
"""

import contextlib
import importlib.util
import io
import itertools
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import main

ROOT = Path(__file__).resolve().parents[1]
TRAIN_CSV = ROOT / "train.csv"
BENCH = ROOT / "benchmarks" / "bench.py"


def load_bench():
    """benchmarks/bench.py as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = load_bench()


def test_the_memory_figure_runs_main_as_a_child(mnist_small, tmp_path):
    """peak_rss_of_main's child `python main.py` runs to the end on a small file."""
    small = tmp_path / "small.csv"
    with TRAIN_CSV.open(encoding="utf-8") as src, small.open("w", encoding="utf-8") as dst:
        dst.writelines(itertools.islice(src, 501))
    mb, code, seconds, _ = load_bench().peak_rss_of_main(str(small), 1)
    assert code == 0 and mb > 0 and seconds > 0


@pytest.mark.skipif(not TRAIN_CSV.exists(), reason="needs train.csv in the project root")
def test_quick_bench_prints_every_table_and_a_headline(tmp_path):
    """--quick on 2000 rows of train.csv exits 0 and prints each section, then the headline."""
    small, small_test = tmp_path / "small.csv", tmp_path / "small_test.csv"
    with TRAIN_CSV.open(encoding="utf-8") as src, small.open("w", encoding="utf-8") as dst:
        dst.writelines(itertools.islice(src, 2001))  # the header and 2000 rows
    with TRAIN_CSV.open(encoding="utf-8") as src, small_test.open("w", encoding="utf-8") as dst:
        dst.writelines(itertools.chain(itertools.islice(src, 1), itertools.islice(src, 2000, 2500)))
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--no-torch", "--no-sklearn", "--no-memory",
         "--csv", str(small), "--test-csv", str(small_test)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    lines = out.rstrip("\n").splitlines()
    headlines = [line for line in lines if line.startswith("headline:")]
    assert len(headlines) == 1, out
    assert headlines[0] == lines[-1]
    match = re.search(r"= ([0-9.]+)x matmul floor", headlines[0])
    assert match, headlines[0]
    assert math.isfinite(float(match.group(1))) and float(match.group(1)) > 0
    # the BLAS it measured
    assert re.search(r"^BLAS +\w+ .*kernel .*\d+ threads", out, re.MULTILINE), out
    # the peers table, with ours and its plain twin, and the skipped peers named
    assert re.search(r"^\| ours \| main\.py's: .* \| 2 \| [0-9.]+ \| [0-9.]+ \| 1\.00x \| "
                     r"[0-9.]+% \| [0-9.]+ \|$", out, re.MULTILINE), out
    assert re.search(r"^\| ours, plain \| constant lr", out, re.MULTILINE), out
    assert "PyTorch skipped: not asked for" in out
    assert "scikit-learn skipped: not asked for" in out
    # the time to accuracy: 2 epochs on 1800 rows reach neither target
    assert re.search(r"^\| ours \| not reached in 2 epochs \| not reached in 2 epochs \| - \|$",
                     out, re.MULTILINE), out
    # the threads table: 1 thread, 2 threads (or all this machine has), THREADS=0
    for policy in ("1", "THREADS=0 \\(default\\)"):
        assert re.search(rf"^\| {policy} \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| "
                         r"[0-9.]+x \|$", out, re.MULTILINE), out
    assert "THREADS=0 worst epoch beside 1 busy process" in headlines[0]


# ----------------------------------------------------------------------------
# the parts


@pytest.mark.parametrize("accuracies, target, expected", [
    ([0.90, 0.97, 0.981, 0.99], 0.98, (6.0, 3)),
    ([0.90, 0.97, 0.981, 0.99], 0.985, (10.0, 4)),
    ([0.98], 0.98, (1.0, 1)),  # reaching the target exactly counts
    ([0.99, 0.97, 0.99], 0.98, (1.0, 1)),  # the first time, not the last
    ([0.90, 0.97], 0.98, None),
    ([], 0.98, None),
])
def test_time_to_sums_the_epochs_until_the_target_is_first_reached(accuracies, target,
                                                                   expected):
    """time_to adds the seconds of every epoch up to the first one at or above target."""
    seconds = [1.0, 2.0, 3.0, 4.0][:len(accuracies)]
    assert bench.time_to(seconds, accuracies, target) == expected


def test_format_time_to():
    """A reached target shows its seconds and epoch; a missed one says in how many epochs."""
    assert bench.format_time_to((7.94, 12), 20) == "7.9 s (epoch 12)"
    assert bench.format_time_to(None, 20) == "not reached in 20 epochs"


def stub(accuracies, statuses=None, epochs=None):
    """A Trainer whose epochs return the given statuses and then score the given accuracies."""
    done = []

    def epoch():
        done.append(len(done))
        return (statuses or {}).get(len(done), "ok")

    return bench.Trainer(epoch, lambda X, y: accuracies[len(done) - 1], lambda: "1", epochs), done


def test_race_runs_each_in_turn_scores_each_epoch_and_stops_the_diverged():
    """Each trainer runs up to its own epochs, is scored after each, and stops when it diverges."""
    a, a_done = stub([0.5, 0.6, 0.7])
    b, b_done = stub([0.4, 0.8, 0.9], epochs=2)  # a recipe with fewer epochs
    c, c_done = stub([0.3, 0.3, 0.3], statuses={2: "diverged"})
    log = bench.race({"a": a, "b": b, "c": c}, 3, None, None, settle=0.0)
    assert log["a"]["acc"] == [0.5, 0.6, 0.7] and len(log["a"]["seconds"]) == 3
    assert log["b"]["acc"] == [0.4, 0.8] and len(log["b"]["seconds"]) == 2
    assert log["c"]["acc"] == [0.3] and len(log["c"]["seconds"]) == 2  # its 2nd epoch is timed
    assert log["c"]["status"] == "diverged" and log["a"]["status"] == "ok"
    assert (len(a_done), len(b_done), len(c_done)) == (3, 2, 2)
    assert all(s >= 0 for entry in log.values() for s in entry["seconds"])


def test_plain_keeps_the_recipe_but_the_schedule_and_augmentation():
    """plain(c): a constant rate and no augmentation; layers, batch, optimiser, rate kept."""
    c = bench.default_config()
    flat = bench.plain(c)
    assert flat["SCHEDULE"] == "constant" and flat["WARMUP_EPOCHS"] == 0.0
    assert not bench.augments(flat)
    assert bench.augments(c)  # main.py's default shifts
    for key in ("LAYERS", "BATCH_SIZE", "OPTIMISER", "LEARNING_RATE", "MOMENTUM", "THREADS"):
        assert flat[key] == c[key]


def tiny_setting():
    """main.py's defaults with a small network and a short run, for quick trainers."""
    return {**bench.default_config(), "LAYERS": [784, 32, 10], "EPOCHS": 2}


def test_our_trainer_trains_as_main_train_does(mnist_small):
    """our_trainer's two epochs give exactly the weights main.train keeps after two epochs."""
    X, y = mnist_small
    X, y = X[:300], y[:300]
    c = {**tiny_setting(), "VAL_FRACTION": 0.0, "THREADS": 1}
    trainer = bench.our_trainer(c, c["LAYERS"], c["BATCH_SIZE"], X, y)
    before = trainer.accuracy(X, y)
    assert [trainer.epoch(), trainer.epoch()] == ["ok", "ok"]
    after = trainer.accuracy(X, y)
    assert 0 <= before < after <= 1
    with contextlib.redirect_stdout(io.StringIO()):
        result = main.train(c, X, y, X[:0], y[:0], np.random.default_rng([c["SEED"], 1]))
    assert result["status"] == "finished"
    import utils
    assert utils.evaluate(result["params"], X, y)[1] == after
    assert trainer.threads() == "1"


def test_the_floor_runs_each_batch_and_gives_the_threads_back(mnist_small):
    """matmul_floor_epoch runs and leaves the BLAS threads as it found them."""
    import threadpoolctl
    before = threadpoolctl.threadpool_info()
    assert bench.matmul_floor_epoch([784, 32, 10], 128, 300, threads_setting=1)() == "ok"
    assert threadpoolctl.threadpool_info() == before


def test_torch_starts_from_our_weights_and_trains(mnist_small):
    """PyTorch's contestant starts from main.setup's very weights, then learns."""
    torch = pytest.importorskip("torch")
    X, y = mnist_small
    X, y = X[:300], y[:300]
    c = tiny_setting()
    ours = bench.our_trainer(c, c["LAYERS"], c["BATCH_SIZE"], X, y)
    theirs = bench.torch_trainer(torch, c, c["LAYERS"], c["BATCH_SIZE"], X, y, 1)
    assert theirs.accuracy(X, y) == pytest.approx(ours.accuracy(X, y), abs=2 / len(y))
    before = theirs.accuracy(X, y)
    assert [theirs.epoch(), theirs.epoch()] == ["ok", "ok"]
    assert theirs.accuracy(X, y) > before


@pytest.mark.parametrize("wait, expected", [("passive", "PASSIVE"), ("default", None)])
def test_pytorch_is_imported_with_sleeping_openmp_threads_unless_told_otherwise(
        monkeypatch, wait, expected):
    """import_peer imports torch under OMP_WAIT_POLICY=PASSIVE, not with --omp-wait=default;
    a policy already in the environment wins; the environment is left as it was, and the
    figures' header says which policy torch had. (torch may be imported already in this
    process: the test checks the policy import_peer sets, not its effect.)"""
    pytest.importorskip("torch")
    monkeypatch.setenv("OMP_WAIT_POLICY", "unset")  # so monkeypatch restores the original
    monkeypatch.delenv("OMP_WAIT_POLICY")
    torch, why = bench.import_peer("torch", wait)
    assert torch is not None and why is None
    assert "OMP_WAIT_POLICY" not in os.environ
    assert bench.torch_omp_wait == expected
    assert ("OMP_WAIT_POLICY=PASSIVE" if expected else "not set") in bench.omp_policy()
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    bench.import_peer("torch", "passive")
    assert bench.torch_omp_wait == "ACTIVE" and os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_a_recipe_that_augments_is_timed_in_pytorch_with_the_same_batches(mnist_small, capsys):
    """With --recipe and an augmenting setting, PyTorch is timed without augmentation and
    with augment.py's batches; the headline gives both ratios, each labelled."""
    torch = pytest.importorskip("torch")
    X, y = mnist_small
    c = {**tiny_setting(), "THREADS": 1, "MAX_SHIFT": 1}
    args = bench.parse_args(["--recipe", "recipes/best.py", "--epochs", "1", "--warmup", "0"])
    args.settle = 0.0
    part = bench.report_epochs(args, c, X[:256], y[:256], 1, torch, None)
    out = capsys.readouterr().out
    assert re.search(r"^PyTorch \+ augm\. +[0-9.]+ ", out, re.MULTILINE), out
    assert re.search(r"x PyTorch without augmentation \([0-9.]+ s\); with the same "
                     r"augmentation, [0-9.]+x PyTorch \([0-9.]+ s\); ours without augmentation",
                     part), part


def test_sklearn_like_for_like_and_defaults_train(mnist_small):
    """scikit-learn's two contestants train a partial_fit per epoch and score in [0, 1]."""
    mlp = pytest.importorskip("sklearn.neural_network").MLPClassifier
    import utils
    X, y = mnist_small
    X, y = X[:300], y[:300]
    c = tiny_setting()
    for own_defaults in (False, True):
        trainer = bench.sklearn_trainer(mlp, c, c["LAYERS"], utils.normalise(X), y, 1,
                                        own_defaults)
        assert [trainer.epoch(), trainer.epoch()] == ["ok", "ok"]
        assert 0.3 < trainer.accuracy(X, y) <= 1


def test_photos_prints_a_table_of_the_five_pictures(tmp_path):
    """benchmarks/photos.py on 3 digits with untrained weights: a Markdown table, one row
    per picture style, the CSV rows' accuracy the same in every row."""
    sys.path.insert(0, str(ROOT))
    import runs
    import utils

    weights = tmp_path / "w.pkl"
    runs.save_weights(str(weights), {"layers": [784, 16, 10], "config": {},
                                     "params": utils.init_params([784, 16, 10],
                                                                 np.random.default_rng(0))})
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "photos.py"), "--n", "3",
         "--weights", str(weights), "--keep", str(tmp_path / "pictures")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")][2:]
    assert len(rows) == 5, done.stdout
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    assert [c[1] for c in cells] == ["JPEG", "JPEG", "PNG", "PNG", "JPEG"]
    assert len({c[3] for c in cells}) == 1
    for c in cells:
        assert re.fullmatch(r"\d+\.\d%", c[2]) and re.fullmatch(r"[+-]\d+\.\d points", c[4])
    assert len(list((tmp_path / "pictures").iterdir())) == 15


def test_fat_strokes_prints_a_table_of_the_widths(tmp_path):
    """benchmarks/fat_strokes.py on 2 digits at two widths with untrained weights: a row per
    width, each counting its 2 digits once; --mnist measures MNIST's own strokes."""
    sys.path.insert(0, str(ROOT))
    import runs
    import utils

    weights = tmp_path / "w.pkl"
    runs.save_weights(str(weights), {"layers": [784, 16, 10], "config": {},
                                     "params": utils.init_params([784, 16, 10],
                                                                 np.random.default_rng(0))})
    script = str(ROOT / "benchmarks" / "fat_strokes.py")
    done = subprocess.run([sys.executable, script, "--n", "2", "--widths", "1", "60",
                           "--weights", str(weights), "--keep", str(tmp_path / "pens")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [[c.strip() for c in line.strip("|").split("|")]
            for line in done.stdout.splitlines() if line.startswith("| ")][2:]
    assert [r[0] for r in rows] == ["1", "60"], done.stdout
    for width, right, warned, silent in rows:
        assert int(right.split("/")[0]) + int(warned) + int(silent) == 2, rows
    assert len(list((tmp_path / "pens").iterdir())) == 4
    measured = subprocess.run([sys.executable, script, "--mnist", "20"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120, check=False)
    assert measured.returncode == 0 and "percentiles" in measured.stdout, measured


def test_sigterm_and_sighup_stop_the_benchmarks_as_ctrl_c_does():
    """stopping.raise_on_stop_signals, as the benchmarks call it: a kill's SIGTERM raises
    stopping.Stopped (a KeyboardInterrupt, so the finally blocks that stop the competing
    processes run), exit status 143."""
    import signal

    import stopping
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        stopping.raise_on_stop_signals()
        for sig in before:
            with pytest.raises(KeyboardInterrupt) as caught:
                os.kill(os.getpid(), sig)
                for _ in range(1000):  # the handler runs between bytecodes
                    pass
            assert stopping.interrupted_status(caught.value) == 128 + sig
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
