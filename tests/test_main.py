"""main.py as a whole: a run end to end, main.train's early stopping, bad input, the ends
of a run (an unlabeled test file, a diverging learning rate, Ctrl-C), a run's pictures,
COMPARE and --PREDICT through the command line.

A user error must print exactly one line, `error: <file>: line L, column C
(name): ...` or a setting error, on stderr, exit with status 2 and write
nothing. The many bad-input cases (files, cells, settings, the command line)
run main.py in this process through runpy (as `python main.py` would,
including its `if __name__ == "__main__"` block), with every warning that
Python would print counted as a line of stderr; a sample of them also runs as
a real subprocess. The other end-to-end tests run `python main.py` on small
slices of MNIST with every output under a temporary folder; one training run
is shared by the tests that only read what it wrote.
"""

import contextlib
import io
import json
import os
import re
import runpy
import shlex
import signal
import subprocess
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import pytest
from helpers import (
    HEADER,
    MAIN,
    PNG,
    ROOT,
    assert_small_png,
    assert_user_error,
    contents,
    csv_text,
    draw,
    head_lines,
    only_run,
    project_files,
    run_cli,
    table,
    write_animation,
    write_bomb,
)

import augment
import data
import diagnostics
import digit
import main
import plots
import runs
import settings
import stopping
import utils

sys.path.insert(0, str(ROOT / "benchmarks"))
import photos  # benchmarks/ holds the drawing of the guide's pictures

# ----------------------------------------------------------------------------
# a whole run


def test_main_end_to_end(repo, head_csv, tmp_path):
    """python main.py on 3000/1000 rows, 8 epochs: exit 0, >= 85% test accuracy, weights and curves saved."""
    head_csv(repo / "train.csv", tmp_path / "train.csv", 3000)
    head_csv(repo / "test.csv", tmp_path / "test.csv", 1000)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    epochs = 8
    proc = subprocess.run(
        [sys.executable, str(repo / "main.py"), f"--EPOCHS={epochs}", "--LAYERS=[784,64,10]"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout

    epoch_lines = re.findall(rf"^epoch +(\d+)/{epochs} ", out, flags=re.MULTILINE)
    assert epoch_lines == [str(e) for e in range(1, epochs + 1)], out
    match = re.search(r"^test accuracy (\d+\.\d+)% \(test\.csv, 1000 rows\)", out, re.MULTILINE)
    assert match, out
    printed = float(match.group(1))
    assert printed >= 85.0, out

    folder = tmp_path / "runs" / "784-64-10,EPOCHS=8"
    weights = folder / "weights.pkl"
    assert weights.is_file()
    saved = runs.load_weights(str(weights))
    assert {"layers", "params", "config", "history", "test_accuracy"} <= set(saved)
    assert saved["layers"] == [784, 64, 10]
    assert [layer["W"].shape for layer in saved["params"]] == [(784, 64), (64, 10)]
    assert saved["config"]["EPOCHS"] == epochs
    accuracy = saved["test_accuracy"]
    assert isinstance(accuracy, float)
    assert 0.0 <= accuracy <= 1.0
    assert abs(100 * accuracy - printed) <= 0.005
    history = saved["history"]
    for key in ("epoch", "train_loss", "train_acc", "val_loss", "val_acc"):
        assert len(history[key]) == epochs, key
    assert history["epoch"] == list(range(1, epochs + 1))

    assert f"  {weights.relative_to(tmp_path)}" in out.splitlines()  # listed as written
    curves = folder / "curves.png"
    png = curves.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) < 200 * 1024


# ----------------------------------------------------------------------------
# main.train: early stopping


def test_early_stopping_keeps_the_best_epoch(mnist_small):
    """PATIENCE=2 stops early and returns the params of the best validation epoch."""
    X, y = mnist_small
    X_train, y_train, X_val, y_val = X[:500], y[:500], X[500:800], y[500:800]
    epochs = 30
    with contextlib.redirect_stdout(io.StringIO()):
        c = settings.configure(main.DEFAULTS, ["--LEARNING_RATE=0.5", "--SCHEDULE=constant", "--OPTIMISER=sgd",
                            "--BATCH_SIZE=50", "--PATIENCE=2", f"--EPOCHS={epochs}"])
        settings.check(c)
        c["LAYERS"] = [784, 32, 10]
        result = main.train(c, X_train, y_train, X_val, y_val, np.random.default_rng(0))
    params, best_epoch, history = result["params"], result["best_epoch"], result["history"]
    assert result["status"] == "finished"
    assert result["stats"] is None  # no batch normalisation, no running statistics
    val_acc, val_loss = history["val_acc"], history["val_loss"]
    n = len(history["epoch"])
    assert history["epoch"] == list(range(1, n + 1))
    # stopped early, exactly PATIENCE epochs after the best one
    assert n < epochs
    assert n == best_epoch + 2
    # the best epoch has the highest validation accuracy, ties going to the lower loss
    assert val_acc[best_epoch - 1] == max(val_acc)
    ties = [e for e in range(n) if val_acc[e] == max(val_acc)]
    assert best_epoch - 1 == min(ties, key=lambda e: (val_loss[e], e))
    assert 1 < best_epoch < n  # so the returned params are not simply the first or last
    # the returned params are that epoch's
    loss, acc = utils.evaluate(params, X_val, y_val)
    assert acc == val_acc[best_epoch - 1]
    assert loss == pytest.approx(val_loss[best_epoch - 1], rel=1e-6)
    assert acc > val_acc[-1]


@pytest.mark.parametrize("accuracies, said", [((0.2, 0.3053, 0.1092), False),
                                               ((0.11, 0.1092, 0.105), True)])
def test_the_chance_message_speaks_of_the_kept_epoch(mnist_small, monkeypatch, accuracies,
                                                     said):
    """A third epoch back at chance after a second that learned is not "still at chance"
    (issue 21, item 9): the message speaks of the best epoch, the one the run keeps."""
    X, y = mnist_small
    scores = iter(accuracies)
    monkeypatch.setattr(utils, "evaluate", lambda *args, **kwargs: (2.0, next(scores)))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        c = settings.configure(main.DEFAULTS, ["--EPOCHS=3", "--LAYERS=[784,8,10]"])
        result = main.train(c, X[:300], y[:300], X[300:400], y[300:400],
                            np.random.default_rng(0), watchers=[diagnostics.Report(c, "", 100)])
    assert result["best_epoch"] == 1 + int(np.argmax(accuracies))
    assert "still at chance" not in out.getvalue()
    message = f"after 3 epochs no epoch has learned (the best reached {max(accuracies):.2%}"
    assert (message in out.getvalue()) == said, out.getvalue()


def test_a_diagnosis_repeated_unchanged_is_said_once(mnist_small):
    """LEARNING_RATE=1e-5 for 2 epochs: "the learning rate is too low" after epoch 1 is not
    repeated word for word after epoch 2 (issue 21, item 12)."""
    X, y = mnist_small
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        c = settings.configure(main.DEFAULTS, ["--EPOCHS=2", "--LEARNING_RATE=1e-5"])
        main.train(c, X[:500], y[:500], X[500:600], y[500:600], np.random.default_rng(0))
    said = [line.split(": ", 1)[1] for line in out.getvalue().splitlines()
            if line.startswith("after epoch ")]
    assert any("learning rate is too low" in line for line in said), out.getvalue()
    assert len(said) == len(set(said)), said


# ----------------------------------------------------------------------------
# bad input: one line, exit 2, nothing written

BASE_ARGS = ("--TRAIN_CSV=train.csv", "--TEST_CSV=test.csv", "--RUNS_DIR=runs",
             "--LAYERS=[4,3,10]", "--EPOCHS=1")


SILENT_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning,
                   ResourceWarning)  # the ones Python does not print by default



def with_cell(line, column, token):
    """The tiny CSV with the cell at file line `line`, 1-based `column`, set to token."""
    rows = table()
    rows[line - 2][column - 1] = token
    return csv_text(rows)


def with_width(line, n_fields):
    """The tiny CSV with the row on file line `line` cut or padded to n_fields fields."""
    rows = table()
    rows[line - 2] = (rows[line - 2] + ["7"] * n_fields)[:n_fields]
    return csv_text(rows)


def write_files(folder, files):
    """Write {name: text or bytes} into folder; None makes a folder of that name."""
    for name, text in files.items():
        path = Path(folder) / name
        if text is None:
            path.mkdir()
        elif isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")


def tiny_project(folder, files=None):
    """A folder holding a valid train.csv and test.csv of 4 pixels, plus `files`."""
    write_files(folder, {"train.csv": csv_text(table(30)), "test.csv": csv_text(table(20))})
    write_files(folder, files or {})


class Result:
    """The exit status, stdout and stderr of one run of main.py."""

    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr

    def __repr__(self):
        return (f"Result(returncode={self.returncode!r}, stdout={self.stdout[-800:]!r}, "
                f"stderr={self.stderr[-2000:]!r})")


def run_in_process(cwd, args, monkeypatch):
    """Run main.py as __main__ in this process, in cwd, and return its Result.

    Warnings that Python would print to stderr are added to stderr, and an
    exception escaping main.py becomes status 1 with its traceback on stderr,
    as it would in a real process.
    """
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", [str(MAIN), *args])
    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(record=True) as caught, \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        warnings.simplefilter("always")
        try:
            runpy.run_path(str(MAIN), run_name="__main__")
            code = 0
        except SystemExit as e:
            code = 0 if e.code is None else e.code if isinstance(e.code, int) else 1
        except Exception:  # noqa: BLE001 -- any escaping exception is the finding
            code = 1
            err.write(traceback.format_exc())
    printed = "".join(warnings.formatwarning(w.message, w.category, w.filename, w.lineno)
                      for w in caught if not issubclass(w.category, SILENT_WARNINGS))
    return Result(code, out.getvalue(), printed + err.getvalue())


# (id, extra files, extra arguments, the message's exact start, texts it contains,
#  texts of which it contains at least one)
BAD_INPUTS = [
    # the files themselves
    ("csv-missing", {}, ["--TRAIN_CSV=missing.csv"], "missing.csv: ", ["no such file"], []),
    ("csv-path-with-backslashes", {"data": None, "data/small.csv": csv_text(table(30))},
     ["--TRAIN_CSV=data\\small.csv"], "data\\small.csv: no such file",
     ["'data/small.csv' exists"], []),
    ("csv-is-a-folder", {"folder": None}, ["--TRAIN_CSV=folder"], "folder: ", ["folder"], []),
    ("csv-empty", {"bad.csv": ""}, ["--TRAIN_CSV=bad.csv"], "bad.csv: ", ["empty"], []),
    ("csv-header-only", {"bad.csv": HEADER + "\n"}, ["--TRAIN_CSV=bad.csv"], "bad.csv: ",
     ["no rows"], []),
    ("test-csv-missing", {}, ["--TEST_CSV=missing.csv"], "missing.csv: ", ["no such file"], []),
    # rows whose width is not the header's
    ("row-too-many-fields-first", {"bad.csv": with_width(2, 6)}, ["--TRAIN_CSV=bad.csv"],
     "bad.csv: line 2 ", ["6 fields", "5"], []),
    ("row-too-many-fields-later", {"bad.csv": with_width(9, 6)}, ["--TRAIN_CSV=bad.csv"],
     "bad.csv: line 9 ", ["6 fields", "5"], []),
    ("row-too-few-fields-first", {"bad.csv": with_width(2, 4)}, ["--TRAIN_CSV=bad.csv"],
     "bad.csv: line 2 ", ["4 fields", "5"], []),
    ("row-too-few-fields-later", {"bad.csv": with_width(9, 3)}, ["--TRAIN_CSV=bad.csv"],
     "bad.csv: line 9 ", ["3 fields", "5"], []),
    ("every-row-one-field-too-many",
     {"bad.csv": csv_text([row + ["9"] for row in table()])}, ["--TRAIN_CSV=bad.csv"],
     "bad.csv: line 2 ", ["6 fields", "5"], []),
    ("single-row-two-fields-too-many", {"bad.csv": csv_text([table(1)[0] + ["1", "2"]])},
     ["--TRAIN_CSV=bad.csv", "--VAL_FRACTION=0.0"], "bad.csv: line 2 ", ["7 fields"], []),
    ("quote-never-closed", {"bad.csv": csv_text(table(29) + [["9", "1", "2", "3", '"4']])},
     ["--TRAIN_CSV=bad.csv"], "bad.csv: line 31", [], []),
    ("quote-never-closed-in-the-header", {"bad.csv": '"' + csv_text(table(30))},
     ["--TRAIN_CSV=bad.csv"], "bad.csv: line 2 ", ["a quote on line 1 is never closed"], []),
    # far from the end: the csv module's field then outgrows its limit (131,072 characters)
    ("quote-never-closed-far-from-the-end",
     {"bad.csv": csv_text(table(10) + [["9", "1", "2", "3", '"4']] + table(20000))},
     ["--TRAIN_CSV=bad.csv"], "bad.csv: line 12: a quote is never closed", [], []),
    # bytes that are not UTF-8 text, early (in the first buffer read) and late (past 8 KB)
    ("not-utf8-early", {"bad.csv": with_cell(3, 3, "@").encode().replace(b"@", b"\xff")},
     ["--TRAIN_CSV=bad.csv"], "bad.csv: ", ["line 3"], []),
    ("not-utf8-late", {"bad.csv": csv_text(table(800) + [["1", "2", "3", "@", "5"]]).encode()
                       .replace(b"@", b"\xff")},
     ["--TRAIN_CSV=bad.csv"], "bad.csv: ", ["line 802"], []),
    # cells
    ("pixel-not-a-number", {"bad.csv": with_cell(3, 3, "abc")}, ["--TRAIN_CSV=bad.csv"],
     "bad.csv: line 3, column 3 (pixel1): ", ["'abc'", "not a number"], []),
    ("pixel-empty", {"bad.csv": with_cell(4, 5, "")}, ["--TRAIN_CSV=bad.csv"],
     "bad.csv: line 4, column 5 (pixel3): ", ["empty"], []),
    ("pixel-nan", {"bad.csv": with_cell(5, 2, "nan")}, ["--TRAIN_CSV=bad.csv"],
     "bad.csv: line 5, column 2 (pixel0): ", ["'nan'"], []),
    ("pixel-inf", {"bad.csv": with_cell(6, 4, "inf")}, ["--TRAIN_CSV=bad.csv"],
     "bad.csv: line 6, column 4 (pixel2): ", ["'inf'", "finite"], []),
    ("pixel-256", {"bad.csv": with_cell(7, 5, "256")}, ["--TRAIN_CSV=bad.csv"],
     "bad.csv: line 7, column 5 (pixel3): ", ["'256'", "0..255"], []),
    ("pixel-negative", {"bad.csv": with_cell(8, 2, "-1")}, ["--TRAIN_CSV=bad.csv"],
     "bad.csv: line 8, column 2 (pixel0): ", ["'-1'", "0..255"], []),
    ("pixel-fraction", {"bad.csv": with_cell(9, 3, "2.5")}, ["--TRAIN_CSV=bad.csv"],
     "bad.csv: line 9, column 3 (pixel1): ", ["'2.5'", "whole number"], []),
    ("label-not-a-number", {"bad.csv": with_cell(10, 1, "x")}, ["--TRAIN_CSV=bad.csv"],
     "bad.csv: line 10, column 1 (label): ", ["'x'", "not a number"], []),
    ("label-fraction", {"bad.csv": with_cell(11, 1, "3.5")}, ["--TRAIN_CSV=bad.csv"],
     "bad.csv: line 11, column 1 (label): ", ["3.5", "whole number"], []),
    ("label-10-with-10-outputs", {"bad.csv": with_cell(12, 1, "10")}, ["--TRAIN_CSV=bad.csv"],
     "bad.csv: line 12, column 1 (label): ", ["10", "0..9"], []),
    ("test-csv-bad-pixel", {"badtest.csv": with_cell(3, 3, "abc")},
     ["--TEST_CSV=badtest.csv"], "badtest.csv: line 3, column 3 (pixel1): ", ["'abc'"], []),
    # layouts that cannot be read
    ("csv-no-header-and-no-square-width", {"bad.csv": "".join(
        ",".join(row[:3]) + "\n" for row in table())}, ["--TRAIN_CSV=bad.csv"], "bad.csv: ",
     ["no column names", "add a header line"], []),
    ("csv-two-label-columns", {"bad.csv": csv_text(table(), HEADER.replace("pixel0", "class"))},
     ["--TRAIN_CSV=bad.csv"], "bad.csv: line 1: ", ["could both be the label"], []),
    ("csv-no-header-bad-label", {"bad.csv": "".join(
        ",".join(["17", *row[1:]] if i == 7 else row) + "\n" for i, row in enumerate(table()))},
     ["--TRAIN_CSV=bad.csv"], "bad.csv: line 8, column 1 (label): ", ["'17'", "0..9"], []),
    ("csv-fractions-and-one-200", {"bad.csv": csv_text(
        [[r[0]] + [f"{int(v) / 255:.4f}" for v in r[1:]] for r in table()]).replace(
            "0.3020", "200", 1)}, ["--TRAIN_CSV=bad.csv"], "bad.csv: line ",
     ["'200' is outside 0..1"], []),
    ("csv-utf16", {"bad.csv": csv_text(table()).encode("utf-16")}, ["--TRAIN_CSV=bad.csv"],
     "bad.csv: ", ["UTF-16"], []),
    # the network against the data
    ("layers0-not-pixel-columns", {}, ["--LAYERS=[5,3,10]"], "train.csv: ",
     ["4 pixel columns", "LAYERS[0]", "5"], []),
    ("layers-last-below-classes", {}, ["--LAYERS=[4,3,5]"],
     "train.csv: line 7, column 1 (label): ", ["5", "0..4"], []),
    ("compare-input-width", {}, ["--COMPARE=[[5,10]]"], None, [], ["COMPARE", "train.csv"]),
    ("compare-output-width", {}, ["--COMPARE=[[4,3]]"], None, [], ["COMPARE", "train.csv"]),
    # settings
    ("layers-one-entry", {}, ["--LAYERS=[4]"], "LAYERS = [4]: ", ["two layers"], []),
    ("layers-width-0", {}, ["--LAYERS=[4,0,10]"], "LAYERS = [4, 0, 10]: ", [">= 1"], []),
    ("learning-rate-0", {}, ["--LEARNING_RATE=0"], "LEARNING_RATE = 0", ["> 0"], []),
    ("learning-rate-negative", {}, ["--LEARNING_RATE=-1"], "LEARNING_RATE = -1", ["> 0"], []),
    ("epochs-0", {}, ["--EPOCHS=0"], "EPOCHS = 0: ", ["at least 1"], []),
    ("batch-size-0", {}, ["--BATCH_SIZE=0"], "BATCH_SIZE = 0: ", ["at least 1"], []),
    ("val-fraction-1", {}, ["--VAL_FRACTION=1.0"], "VAL_FRACTION = 1.0: ", ["[0, 1)"], []),
    ("val-fraction-negative", {}, ["--VAL_FRACTION=-0.1"], "VAL_FRACTION = -0.1: ",
     ["[0, 1)"], []),
    ("threads-negative", {}, ["--THREADS=-1"], "THREADS = -1: ", [">= 0"], []),
    ("warmup-the-whole-run", {}, ["--WARMUP_EPOCHS=1.0"], "WARMUP_EPOCHS = 1.0: ",
     ["[0, EPOCHS)"], []),
    ("warmup-past-the-first-step-drop", {}, ["--EPOCHS=5", "--SCHEDULE=step", "--STEP_EPOCHS=2",
                                             "--WARMUP_EPOCHS=3.0"],
     "WARMUP_EPOCHS = 3.0: ", ["at most STEP_EPOCHS (2)"], []),
    ("test-csv-empty-name", {}, ["--TEST_CSV="], "TEST_CSV = '': ", ["must name a CSV"], []),
    ("name-too-long", {}, ["--NAME=" + "x" * 300], "NAME = 'xxxx", ["at most 100"], []),
    ("shift-past-the-image", {}, ["--MAX_SHIFT=28"], "MAX_SHIFT = 28: ",
     ["whole image (2 pixels)"], []),
    ("compare-one-flat-list", {}, ["--COMPARE=[4,3,10]"], "COMPARE[0] = 4: ",
     ["for one network write COMPARE = [[4, 3, 10]]"], []),
    ("compare-entry-changes-the-rows", {}, ["--COMPARE=[{'VAL_FRACTION':0.5},{}]"],
     "COMPARE[0]: VAL_FRACTION cannot change within a comparison", ["separate runs"], []),
    ("compare-with-a-name", {}, ["--NAME=x", "--COMPARE=[[4,3,10],[4,5,10]]"], "NAME = 'x': ",
     ["drop NAME"], []),
    ("name-of-the-run-log", {}, ["--NAME=log.csv"], "NAME = 'log.csv': ", ["ASCII"], []),
    ("name-hidden", {}, ["--NAME=.x"], "NAME = '.x': ", ["may not start with ."], []),
    ("compare-the-same-network-twice", {}, ["--COMPARE=[[4,3,10],{'LAYERS':[4,3,10]}]"],
     "COMPARE[1] trains the same network as COMPARE[0]", [], []),
    # too few rows for the validation split
    ("one-row-half-held-out", {"one.csv": csv_text(table(1))},
     ["--TRAIN_CSV=one.csv", "--VAL_FRACTION=0.5"], "one.csv: ",
     ["too few", "VAL_FRACTION = 0.5"], []),
    ("no-row-held-out", {}, ["--VAL_FRACTION=0.01"], "train.csv: ",
     ["too few", "VAL_FRACTION = 0.01"], []),
    ("no-row-left-to-train", {"two.csv": csv_text(table(2))},
     ["--TRAIN_CSV=two.csv", "--VAL_FRACTION=0.9"], "two.csv: ",
     ["too few", "VAL_FRACTION = 0.9"], []),
    ("batch-norm-one-row-left-to-train", {"two.csv": csv_text(table(2))},
     ["--TRAIN_CSV=two.csv", "--VAL_FRACTION=0.5", "--BATCH_NORM=True"], "two.csv: ",
     ["too few", "batch normalisation needs at least 2 training rows"], []),
    ("batch-norm-batches-of-one-row", {}, ["--BATCH_NORM=True", "--BATCH_SIZE=1"],
     "BATCH_SIZE = 1: ", ["batch normalisation needs at least 2 rows"], []),
    ("batch-norm-not-a-bool", {}, ["--BATCH_NORM=1"], "--BATCH_NORM=1: ", ["bool", "int"], []),
    # the command line
    ("override-does-not-parse", {}, ["--LAYERS=[784,"], "--LAYERS=[784,: ",
     ["not a Python literal"], []),
    ("override-unknown-name", {}, ["--FOO=1"], None, ["FOO", "not a setting"], []),
    ("override-wrong-type-text", {}, ["--EPOCHS=abc"], "--EPOCHS=abc: ", ["int"], []),
    ("override-wrong-type-list", {}, ["--EPOCHS=[1]"], "--EPOCHS=[1]: ", ["int", "list"], []),
    ("override-without-equals", {}, ["--EPOCHS"], "--EPOCHS: ", ["--EPOCHS=value"], []),
    ("argument-without-dashes", {}, ["EPOCHS=3"], "EPOCHS=3: ", ["--NAME=value"], []),
]


CASES = {case[0]: case for case in BAD_INPUTS}



def test_the_tiny_project_itself_is_valid(tmp_path, monkeypatch):
    """The bad-input cases below change one thing of this run, which succeeds."""
    tiny_project(tmp_path)
    result = run_in_process(tmp_path, BASE_ARGS, monkeypatch)
    assert result.returncode == 0, result
    assert "Traceback" not in result.stderr
    assert (tmp_path / "runs" / "4-3-10,EPOCHS=1" / "weights.pkl").is_file()


@pytest.mark.parametrize(("files", "args", "prefix", "contains", "any_of"),
                         [case[1:] for case in BAD_INPUTS], ids=list(CASES))
def test_bad_input_is_one_line_and_exit_2(tmp_path, monkeypatch, files, args, prefix,
                                          contains, any_of):
    tiny_project(tmp_path, files)
    result = run_in_process(tmp_path, [*BASE_ARGS, *args], monkeypatch)
    assert_user_error(result, prefix, contains, any_of)
    assert not (tmp_path / "runs").exists(), "a refused run wrote something"


@pytest.mark.parametrize("case_id", ["csv-missing", "pixel-not-a-number", "pixel-inf",
                                     "every-row-one-field-too-many",
                                     "override-unknown-name", "override-without-equals"])
def test_bad_input_in_a_real_process(tmp_path, case_id):
    """The same cases as a real `python main.py`: one line, status 2, no traceback."""
    _, files, args, prefix, contains, any_of = CASES[case_id]
    tiny_project(tmp_path, files)
    assert_user_error(run_cli(tmp_path, *BASE_ARGS, *args), prefix, contains, any_of)


# ----------------------------------------------------------------------------
# small runs on real data


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    """Small slices of the real data: train (1500 rows), test (200) and unlabeled test,
    and train-1000 and test-300 for the run shared by the tests of its pictures."""
    folder = tmp_path_factory.mktemp("mnist-main")
    return {
        "train": head_lines(ROOT / "train.csv", folder / "train-1500.csv", 1500),
        "test": head_lines(ROOT / "test.csv", folder / "test-200.csv", 200),
        "unlabeled": head_lines(ROOT / "test.csv", folder / "unlabeled-200.csv", 200,
                                drop_label=True),
        "train-1000": head_lines(ROOT / "train.csv", folder / "train-1000.csv", 1000),
        "test-300": head_lines(ROOT / "test.csv", folder / "test-300.csv", 300),
    }


def data_args(mnist, folder, train="train-1000", test="test-300"):
    """The data and output arguments of a run on two of the slices, writing under folder."""
    return (f"--TRAIN_CSV={mnist[train]}", f"--TEST_CSV={mnist[test]}",
            f"--RUNS_DIR={folder / 'runs'}")


def mnist_args(mnist, tmp_path, *extra, test="test"):
    """Arguments for a small real run whose outputs all go under tmp_path."""
    return (*data_args(mnist, tmp_path, "train", test), "--LAYERS=[784,16,10]", *extra)


@pytest.fixture(scope="module")
def trained(mnist, tmp_path_factory):
    """One end-to-end run of a small network; its folder and CompletedProcess."""
    folder = tmp_path_factory.mktemp("trained")
    result = run_cli(folder, *data_args(mnist, folder), "--LAYERS=[784,16,10]", "--EPOCHS=2")
    return folder, result


def test_batch_norm_end_to_end_then_predict(mnist, tmp_path, digit_png):
    """--BATCH_NORM=True on 1500 rows, sigmoid, three hidden layers: it learns, the weights
    file holds gamma, beta and the running statistics of the kept epoch, and --PREDICT with
    it gives the test accuracy the run printed, and classifies a lone picture."""
    args = (*data_args(mnist, tmp_path, "train", "test"), "--LAYERS=[784,32,32,32,10]",
            "--ACTIVATION=sigmoid", "--BATCH_NORM=True", "--EPOCHS=4", "--BATCH_SIZE=32")
    result = run_cli(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    expected = utils.count_params([784, 32, 32, 32, 10], batch_norm=True)
    total = re.search(r"^  total +([\d,]+)$", result.stdout, re.MULTILINE).group(1)
    assert total == f"{expected:,}" != f"{utils.count_params([784, 32, 32, 32, 10]):,}"
    assert result.stdout.count("sigmoid + BN") == 3
    match = re.search(r"^test accuracy (\d+\.\d+)% ", result.stdout, re.MULTILINE)
    assert match, result.stdout
    # 85.5% when written; the same run without batch normalisation gets 14.0%
    assert float(match.group(1)) >= 80.0, result.stdout
    weights = only_run(tmp_path / "runs") / "weights.pkl"
    saved = runs.load_weights(str(weights))
    assert [utils.is_normalised(layer) for layer in saved["params"]] == [True] * 3 + [False]
    assert [s is None for s in saved["stats"]] == [False, False, False, True]
    assert saved["config"]["BATCH_NORM"] is True
    X, y = data.load_csv(str(mnist["test"]))
    Z = utils.predict_logits(saved["params"], X, "sigmoid", stats=saved["stats"])
    assert utils.accuracy(Z, y) == pytest.approx(saved["test_accuracy"], abs=1e-12)
    predicted = run_cli(tmp_path, f"--PREDICT={mnist['test']}",
                        f"--WEIGHTS={weights}")
    assert predicted.returncode == 0, predicted.stderr
    assert f"accuracy on {mnist['test']}: {match.group(1)}%" in predicted.stdout
    one = run_cli(tmp_path, f"--PREDICT={digit_png}", f"--WEIGHTS={weights}")
    assert one.returncode == 0, one.stderr
    assert len(re.findall(r"^\s+\d: \d+\.\d%$", one.stdout, re.MULTILINE)) == 3


# ----------------------------------------------------------------------------
# the ends of a run


def test_unlabeled_test_file_writes_kaggle_predictions(mnist, tmp_path):
    result = run_cli(tmp_path, *mnist_args(mnist, tmp_path, "--EPOCHS=1", test="unlabeled"))
    assert result.returncode == 0, result.stderr
    assert not any(line.startswith("test accuracy") for line in result.stdout.splitlines())
    path = only_run(tmp_path / "runs") / "predictions.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "ImageId,Label"
    rows = [line.split(",") for line in lines[1:]]
    assert len(rows) == 200
    assert [int(image_id) for image_id, _ in rows] == list(range(1, 201))
    labels = np.array([int(label) for _, label in rows])
    assert labels.min() >= 0
    assert labels.max() <= 9
    # the labels are the saved network's own predictions for those rows
    saved = runs.load_weights(str(only_run(tmp_path / "runs") / "weights.pkl"))
    X, y = data.load_csv(str(mnist["unlabeled"]))
    assert y is None
    np.testing.assert_array_equal(labels, utils.predict_logits(saved["params"], X).argmax(1))


def test_a_test_file_that_repeats_training_rows_or_differs_in_kind_is_warned_of(
        mnist, tmp_path, monkeypatch):
    """Testing on the training file measures memory; testing inverted digits on a network
    trained on MNIST's light-on-dark ones reads them poorly: both are said."""
    inverted = tmp_path / "inverted.csv"
    lines = mnist["test"].read_text(encoding="utf-8").splitlines()
    inverted.write_text("\n".join([lines[0]] + [",".join([row.split(",")[0]] + [
        str(255 - int(v)) for v in row.split(",")[1:]]) for row in lines[1:]]) + "\n")
    def run(*args):
        return run_in_process(tmp_path, ["--LAYERS=[784,16,10]", "--EPOCHS=1",
                                         f"--RUNS_DIR={tmp_path / 'runs'}", *args], monkeypatch)

    same = run(f"--TRAIN_CSV={mnist['train']}", f"--TEST_CSV={mnist['train']}",
               "--LAYERS=[784,16,12]", "--MAX_SHIFT=15")
    assert same.returncode == 0, same.stderr
    assert (f"warning: {mnist['train']}: 1500 of its 1500 rows are also in {mnist['train']}: "
            "the test accuracy will measure memory") in same.stdout
    assert ("warning: LAYERS[-1] = 12, but the labels of " in same.stdout
            and "go up to 9: 2 output(s) can never be the right answer" in same.stdout)
    assert "warning: MAX_SHIFT = 15: a shift of half the image (14 pixels)" in same.stdout
    odd = run(f"--TRAIN_CSV={inverted}", f"--TEST_CSV={mnist['test']}")
    assert odd.returncode == 0, odd.stderr
    warning = [line for line in odd.stdout.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and warning[0].startswith(
        f"warning: {inverted}: its background is light (median pixel 255)"), odd.stdout
    assert "the network may not learn at all" in warning[0]
    assert "the other file's are not" in warning[0] and "also in" not in odd.stdout


@pytest.mark.parametrize("overrides", [
    ["--LEARNING_RATE=1e30", "--OPTIMISER=sgd"],  # overflows float32 in the first epoch
    ["--LEARNING_RATE=5.0", "--LAYERS=[784,256,128,64,10]"],  # a loss of 1e20: finite
], ids=["non-finite", "finite-but-huge"])
def test_diverging_run_stops_with_advice_and_saves_no_untrained_weights(mnist, tmp_path,
                                                                         overrides):
    """Exit 3 and one line of advice; the random start is never saved as if it were trained."""
    result = run_cli(tmp_path, *mnist_args(mnist, tmp_path, "--EPOCHS=2", *overrides))
    assert result.returncode == 3, result
    assert "Traceback" not in result.stderr
    advice = [line for line in result.stdout.splitlines() if "LEARNING_RATE" in line
              and "lower" in line and line.startswith("epoch")]
    assert len(advice) == 1, result.stdout
    assert advice[0].startswith("epoch 1: "), advice
    assert "diverged" in advice[0]
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result
    assert "training diverged" in result.stderr and "lower LEARNING_RATE" in result.stderr
    assert "nothing saved" in result.stdout
    assert not (only_run(tmp_path / "runs") / "weights.pkl").exists()
    log = (tmp_path / "runs" / "log.csv").read_text(encoding="utf-8").splitlines()
    assert len(log) == 2 and ",diverged," in log[1], log


def test_a_training_file_of_one_class_is_refused(mnist, tmp_path):
    rows = [line for line in Path(mnist["train"]).read_text(encoding="utf-8").splitlines()]
    ones = [rows[0]] + [row for row in rows[1:] if row.startswith("1,")]
    (tmp_path / "ones.csv").write_text("\n".join(ones) + "\n", encoding="utf-8")
    result = run_cli(tmp_path, *mnist_args(mnist, tmp_path), "--TRAIN_CSV=ones.csv")
    assert_user_error(result, "ones.csv: ", ["every label is 1", "two classes"])


def test_classes_missing_from_the_training_file_are_warned_about(mnist, tmp_path):
    rows = Path(mnist["train"]).read_text(encoding="utf-8").splitlines()
    kept = [rows[0]] + [row for row in rows[1:] if not row.startswith(("3,", "8,"))]
    (tmp_path / "no38.csv").write_text("\n".join(kept) + "\n", encoding="utf-8")
    result = run_cli(tmp_path, *mnist_args(mnist, tmp_path, "--EPOCHS=1"), "--TRAIN_CSV=no38.csv")
    assert result.returncode == 0, result
    warning = [line for line in result.stdout.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "(3, 8)" in warning[0], result.stdout


def signal_after_an_epoch(command, cwd, signum, out_path, err_path):
    """Start command (python main.py ...) in cwd, its output into out_path and err_path; send
    it signum once it printed its first epoch's line (30 s at most); return its exit status."""
    with open(out_path, "w", encoding="utf-8") as out, \
            open(err_path, "w", encoding="utf-8") as err:
        proc = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=err)
        try:
            deadline = time.monotonic() + 30
            while not any(line.startswith("epoch ") for line in
                          out_path.read_text(encoding="utf-8").splitlines()):
                assert proc.poll() is None, err_path.read_text(encoding="utf-8")
                assert time.monotonic() < deadline, "no epoch line within 30 s"
                time.sleep(0.05)
            proc.send_signal(signum)
            return proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143),
                                                (signal.SIGHUP, 129)],
                         ids=["ctrl-c", "sigterm", "sighup"])
def test_ctrl_c_stops_saves_weights_and_curves(mnist, tmp_path, signum, status):
    """Ctrl-C, SIGTERM, and SIGHUP (an ssh session dropped; issue 21, item 6): the run stops
    after its batch with the best weights, its pictures and log row, and says how to go on."""
    out_path, err_path = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    args = mnist_args(mnist, tmp_path, "--EPOCHS=2000", "--BATCH_SIZE=32")
    returncode = signal_after_an_epoch([sys.executable, "-u", str(MAIN), *args], tmp_path,
                                       signum, out_path, err_path)
    stdout = out_path.read_text(encoding="utf-8")
    assert returncode == status, (stdout[-1000:], err_path.read_text(encoding="utf-8"))
    assert "Traceback" not in err_path.read_text(encoding="utf-8")
    assert "epoch 2000/2000" not in stdout, "the run was not stopped"
    folder = only_run(tmp_path / "runs")
    saved = runs.load_weights(str(folder / "weights.pkl"))
    assert saved["status"] == "stopped"
    assert all(np.isfinite(p).all() for layer in saved["params"] for p in layer.values())
    assert (folder / "curves.png").read_bytes()[:8] == PNG
    assert "to continue: python main.py" in stdout and "--RESUME" in stdout.splitlines()[-1]
    log = (tmp_path / "runs" / "log.csv").read_text(encoding="utf-8").splitlines()
    assert len(log) == 2 and ",stopped," in log[1], log


def test_a_run_started_under_nohup_ignores_a_closed_terminal(mnist, tmp_path):
    """nohup starts a run with SIGHUP ignored: the terminal that closes (SIGHUP) then leaves
    it training to its end, as nohup promises, rather than stopping it (exit 0, finished)."""
    out_path, err_path = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    args = mnist_args(mnist, tmp_path, "--EPOCHS=3", "--BATCH_SIZE=32")
    returncode = signal_after_an_epoch(["nohup", sys.executable, "-u", str(MAIN), *args],
                                       tmp_path, signal.SIGHUP, out_path, err_path)
    stdout = out_path.read_text(encoding="utf-8")
    assert returncode == 0, stdout[-1000:]
    assert "epoch   3/3" in stdout
    assert runs.load_weights(str(only_run(tmp_path / "runs") / "weights.pkl"))["status"] == \
        "finished"


def run_until_an_epoch(args, cwd, err):
    """Start python main.py args with its standard output a pipe; return the process once it
    printed its first epoch's line (30 s at most)."""
    proc = subprocess.Popen([sys.executable, "-u", str(MAIN), *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=err, text=True)
    deadline = time.monotonic() + 30
    for line in proc.stdout:
        if line.startswith("epoch "):
            return proc
        assert time.monotonic() < deadline, "no epoch line within 30 s"
    raise AssertionError(f"main.py ended with {proc.wait()} before an epoch")


@pytest.mark.parametrize(("signum", "status"), [(None, 141), (signal.SIGINT, 130)],
                         ids=["output-closed", "ctrl-c-and-tee-killed"])
def test_a_closed_standard_output_costs_the_run_nothing(mnist, tmp_path, signum, status):
    """The reader of the output goes away (| head; or tee, killed by the same Ctrl-C; issue
    21, item 7): the run stops after its batch, saves its best weights, pictures and log
    row, and exits with the status of what stopped it, without a traceback."""
    args = mnist_args(mnist, tmp_path, "--EPOCHS=2000", "--BATCH_SIZE=32")
    with open(tmp_path / "stderr.txt", "w", encoding="utf-8") as err:
        proc = run_until_an_epoch(args, tmp_path, err)
        try:
            if signum:
                proc.send_signal(signum)
            proc.stdout.close()  # the reader is gone
            returncode = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    stderr = (tmp_path / "stderr.txt").read_text(encoding="utf-8")
    assert returncode == status, stderr
    assert "Traceback" not in stderr, stderr
    folder = only_run(tmp_path / "runs")
    assert runs.load_weights(str(folder / "weights.pkl"))["status"] == "stopped"
    assert (folder / "curves.png").read_bytes()[:8] == PNG
    assert (folder / "checkpoint.pkl").is_file()  # --RESUME continues it
    log = (tmp_path / "runs" / "log.csv").read_text(encoding="utf-8").splitlines()
    assert len(log) == 2 and ",stopped," in log[1], log


def test_main_trains_on_a_thread_other_than_the_main_one(tmp_path, monkeypatch, capsys):
    """main.main called from a worker thread (a small web page wrapping the trainer; issue
    21, item 5): it trains without catching signals, which only the main thread can, and
    says that Ctrl-C is the caller's."""
    import threading

    tiny_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    returned, failed = [], []

    def work():
        try:
            returned.append(main.main(list(BASE_ARGS)))
        except Exception as e:  # noqa: BLE001 -- the finding, reported below
            failed.append(e)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=120)
    assert not failed and returned == [0], (failed, capsys.readouterr())
    assert "Ctrl-C is the caller's" in capsys.readouterr().out
    assert (tmp_path / "runs" / "4-3-10,EPOCHS=1" / "weights.pkl").is_file()


def test_request_stop_stops_every_training_run_as_ctrl_c_does(capsys):
    """What a caller on another thread has instead of Ctrl-C: every caught flag is set."""
    import stopping

    flag = stopping.StopFlag().catch()
    try:
        stopping.request_stop("the page's stop button")
    finally:
        flag.release()
    assert flag.set and flag.signum == signal.SIGINT and type(flag.signum) is int
    assert "the page's stop button: stopping after this batch" in capsys.readouterr().out


@pytest.mark.parametrize(("signum", "status", "said"), [
    (signal.SIGINT, 130, "Ctrl-C: writing"), (signal.SIGTERM, 143, "asked to stop: writing"),
    (signal.SIGHUP, 129, "the terminal closed (SIGHUP): writing")], ids=["int", "term", "hup"])
def test_ctrl_c_while_the_results_are_written_lets_them_finish(tmp_path, monkeypatch, signum,
                                                               status, said):
    """Ctrl-C (or SIGTERM, SIGHUP) after training, while the pictures are drawn: the
    weights, pictures and the log's row are still written whole, then the run stops with
    the signal's status, 128 + its number, as during training (SIGTERM once gave 130)."""
    tiny_project(tmp_path)
    draw_tests = plots.test_pictures

    def pressed_meanwhile(*args, **kwargs):
        os.kill(os.getpid(), signum)
        return draw_tests(*args, **kwargs)

    monkeypatch.setattr(plots, "test_pictures", pressed_meanwhile)
    result = run_in_process(tmp_path, BASE_ARGS, monkeypatch)
    assert result.returncode == status, result
    assert f"{said} this run's weights, pictures and log first" in result.stdout
    folder = tmp_path / "runs" / "4-3-10,EPOCHS=1"
    assert runs.load_weights(str(folder / "weights.pkl"))["status"] == "finished"
    assert (folder / "confusion.png").is_file() and not (folder / "checkpoint.pkl").exists()
    assert "4-3-10,EPOCHS=1" in (tmp_path / "runs" / "log.csv").read_text(encoding="utf-8")


def test_a_second_ctrl_c_says_how_to_resume(tmp_path, monkeypatch):
    """A second Ctrl-C aborts at once; the checkpoint of the last epoch is still there."""
    tiny_project(tmp_path)
    epoch = utils.train_epoch
    calls = []

    def aborted_in_epoch_2(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return epoch(*args, **kwargs)

    monkeypatch.setattr(utils, "train_epoch", aborted_in_epoch_2)
    result = run_in_process(tmp_path, [*BASE_ARGS, "--EPOCHS=3"], monkeypatch)
    assert result.returncode == 130, result
    command = " ".join(shlex.quote(a) for a in [*BASE_ARGS, "--EPOCHS=3"])
    assert result.stderr.strip().endswith(
        f"interrupted; to continue: python main.py {command} --RESUME"), result


# ----------------------------------------------------------------------------
# a run's pictures, and COMPARE


def test_run_exits_0(trained):
    _, result = trained
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name", ["confusion.png", "mistakes.png", "curves.png", "layers.png",
                                  "activations.png", "weights.png"])
def test_run_draws_small_pngs(trained, name):
    folder, result = trained
    assert_small_png(only_run(folder / "runs") / name)
    assert f"/{name}" in result.stdout.split("wrote:")[1]  # listed among the files written


def test_the_statistics_of_every_layer_are_in_the_saved_history(trained):
    """One record before training and one after each epoch, on the 100 validation rows,
    and no diagnosis for this healthy network."""
    folder, result = trained
    history = runs.load_weights(str(only_run(folder / "runs") / "weights.pkl"))["history"]
    assert [r["epoch"] for r in history["layers"]] == [0, 1, 2]
    assert all(r["rows"] == 100 and len(r["dW_rms"]) == 2 and len(r["dead"]) == 1
               for r in history["layers"])
    assert "after epoch" not in result.stdout


def test_a_deep_sigmoid_network_is_told_its_gradients_vanish(mnist, tmp_path, monkeypatch):
    """Nielsen's [784, 30, 30, 30, 30, 10] with sigmoid: after epoch 1, one line saying the
    first layer's gradients are far smaller than the last hidden layer's, and what to try."""
    result = run_in_process(tmp_path, (*mnist_args(mnist, tmp_path, "--EPOCHS=2", "--THREADS=1"),
                                       "--LAYERS=[784,30,30,30,30,10]", "--ACTIVATION=sigmoid"),
                            monkeypatch)
    assert result.returncode == 0, result.stderr
    said = [line for line in result.stdout.splitlines() if line.startswith("after epoch 1: ")]
    assert len(said) == 1, result.stdout
    assert re.match(r"after epoch 1: layer 1 gets gradients \d+x smaller than layer 4 ", said[0])
    assert "vanishing gradients" in said[0] and 'try ACTIVATION="relu"' in said[0]


def test_printed_test_accuracy_is_that_of_the_saved_weights(trained, mnist):
    folder, result = trained
    printed = re.findall(r"^test accuracy ([\d.]+)% .*\b300 rows", result.stdout, re.MULTILINE)
    assert len(printed) == 1, result.stdout
    saved = runs.load_weights(str(only_run(folder / "runs") / "weights.pkl"))
    X, y = data.load_csv(str(mnist["test-300"]))
    Z = utils.predict_logits(saved["params"], X)
    C = utils.confusion_matrix(y, Z.argmax(axis=1), 10)
    assert C.sum() == 300
    assert float(printed[0]) == pytest.approx(100 * np.trace(C) / 300, abs=0.006)
    assert saved["test_accuracy"] == pytest.approx(np.trace(C) / 300)


def test_compare_two_architectures_writes_picture_and_table(mnist, tmp_path):
    result = run_cli(tmp_path, *data_args(mnist, tmp_path), "--COMPARE=[[784,10],[784,16,10]]",
                     "--EPOCHS=2")
    assert result.returncode == 0, result.stderr
    (compared,) = (tmp_path / "runs").glob("compare,*")
    assert_small_png(compared / "compare.png")
    lines = (compared / "compare.md").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("| entry |")
    assert re.fullmatch(r"\|( ?-+:? \|)+", lines[1]), lines[1]
    rows = lines[2:]
    assert len(rows) == 2, lines
    number, percent = r"\d+\.\d", r"\d+\.\d\d%"
    assert re.fullmatch(rf"\| 784-10 \| 7,850 \| {number} \| {percent} \| {percent} "
                        r"\| finished \|", rows[0]), rows[0]
    assert re.fullmatch(rf"\| 784-16-10 \| 12,730 \| {number} \| {percent} \| {percent} "
                        r"\| finished \|", rows[1]), rows[1]
    for stem in ("784-10", "784-16-10"):
        (folder,) = (tmp_path / "runs").glob(f"{stem},*")
        assert runs.load_weights(str(folder / "weights.pkl"))["layers"] == [
            int(n) for n in stem.split("-")]


# ----------------------------------------------------------------------------
# --PREDICT


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A weights file of a [784, 16, 10] network, saved directly (no training)."""
    path = tmp_path_factory.mktemp("weights") / "w.pkl"
    layers = [784, 16, 10]
    runs.save_weights(str(path), {"layers": layers, "config": {"ACTIVATION": "relu"},
                                   "params": utils.init_params(layers,
                                                               np.random.default_rng(5))})
    return path


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory):
    """A PNG of a synthetic 7, written with matplotlib."""
    import matplotlib.pyplot as plt  # only the PNG needs it

    path = tmp_path_factory.mktemp("png") / "seven.png"
    plt.imsave(path, draw("seven"), cmap="gray", vmin=0, vmax=1)
    return path


def test_predict_a_png_prints_the_three_likeliest_digits(tmp_path, weights, digit_png):
    result = run_cli(tmp_path, f"--PREDICT={digit_png}", f"--WEIGHTS={weights}")
    assert result.returncode == 0, result.stderr
    lines = re.findall(r"^\s+(\d): (\d+\.\d)%$", result.stdout, re.MULTILINE)
    assert len(lines) == 3, result.stdout
    digits = [int(d) for d, _ in lines]
    percents = [float(p) for _, p in lines]
    assert len(set(digits)) == 3
    assert all(0 <= d <= 9 for d in digits)
    assert percents == sorted(percents, reverse=True)
    assert sum(percents) <= 100.15
    # the same numbers as the network gives for the prepared picture
    saved = runs.load_weights(str(weights))
    x = digit.prepare_digit(digit.read_image(str(digit_png)))
    P = utils.softmax(utils.predict_logits(saved["params"], x[None, :]))[0]
    expected = np.argsort(-P, kind="stable")[:3]
    assert digits == expected.tolist()
    np.testing.assert_allclose(percents, 100 * P[expected], atol=0.051)
    # what the network saw, beside the weights, named after the picture
    picture = weights.parent / "predicted-seven-png.png"
    assert f"what the network saw: {picture}" in result.stdout.splitlines()
    assert_small_png(picture)


def test_predict_says_the_weights_file_defines_the_network(tmp_path, weights, digit_png,
                                                           monkeypatch):
    result = run_in_process(tmp_path, [f"--PREDICT={digit_png}", f"--WEIGHTS={weights}",
                                       "--LAYERS=[784,64,10]", "--ACTIVATION=tanh"], monkeypatch)
    assert result.returncode == 0, result.stderr
    notes = result.stderr.splitlines()
    assert f"note: LAYERS=[784, 64, 10] ignored: {weights} holds a network with " \
           "LAYERS=[784, 16, 10]" in notes, result.stderr
    assert any(n.startswith("note: ACTIVATION='tanh' ignored") for n in notes), result.stderr
    same = run_in_process(tmp_path, [f"--PREDICT={digit_png}", f"--WEIGHTS={weights}",
                                     "--LAYERS=[784,16,10]"], monkeypatch)
    assert same.returncode == 0 and "note:" not in same.stderr, same.stderr


def test_predict_a_csv_writes_predictions(tmp_path, weights, mnist):
    csv_path = head_lines(mnist["test-300"], tmp_path / "some-digits.csv", 25)
    result = run_cli(tmp_path, f"--PREDICT={csv_path}", f"--WEIGHTS={weights}",
                     f"--RUNS_DIR={tmp_path / 'runs'}")
    assert result.returncode == 0, result.stderr
    lines = (weights.parent / "predictions-some-digits.csv").read_text(
        encoding="utf-8").splitlines()
    assert lines[0] == "ImageId,Label"
    assert [int(line.split(",")[0]) for line in lines[1:]] == list(range(1, 26))
    labels = [int(line.split(",")[1]) for line in lines[1:]]
    X, _ = data.load_csv(str(csv_path))
    saved = runs.load_weights(str(weights))
    assert labels == utils.predict_logits(saved["params"], X).argmax(axis=1).tolist()
    assert "accuracy on" in result.stdout  # the CSV has labels


@pytest.mark.parametrize("checkpoint", [False, True], ids=["no-checkpoint", "checkpoint"])
def test_predict_with_the_weights_of_a_stopped_run_says_so(tmp_path, weights, mnist,
                                                           checkpoint):
    """Weights a run saved when it was stopped (after 0 epochs: Ctrl-C, or `| head` closing
    its output, in the first epoch) still answer, with one warning saying what they are,
    and what to do: --RESUME only when a checkpoint beside them can be resumed."""
    saved = runs.load_weights(str(weights))
    stopped = tmp_path / "stopped.pkl"
    runs.save_weights(str(stopped), {**saved, "status": "stopped", "best_epoch": 0})
    if checkpoint:
        (tmp_path / "checkpoint.pkl").write_bytes(b"\x80\x04N.")
    csv_path = head_lines(mnist["test-300"], tmp_path / "some-digits.csv", 25)
    result = run_cli(tmp_path, f"--PREDICT={csv_path}", f"--WEIGHTS={stopped}",
                     f"--RUNS_DIR={tmp_path / 'runs'}")
    assert result.returncode == 0, result.stderr
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "stopped after 0 epochs" in warning[0], result.stderr
    assert ("--RESUME continues its run" in warning[0]) == checkpoint, warning
    assert ("run its command again without --RESUME" in warning[0]) != checkpoint, warning
    finished = tmp_path / "finished.pkl"  # saved, then killed before its pictures and log
    runs.save_weights(str(finished), saved)
    result = run_cli(tmp_path, f"--PREDICT={csv_path}", f"--WEIGHTS={finished}",
                     f"--RUNS_DIR={tmp_path / 'runs'}")
    assert result.returncode == 0, result.stderr
    assert ("stopped while writing its results" in result.stderr) == checkpoint, result.stderr


def test_predict_a_csv_keeps_its_own_image_ids(tmp_path, weights, mnist, monkeypatch):
    """A second part of a Kaggle test file numbers its images from 28001 in an ImageId
    column: the predictions carry those ids, not 1, 2, 3."""
    lines = mnist["unlabeled"].read_text(encoding="utf-8").splitlines()[:26]
    part = tmp_path / "part2.csv"
    part.write_text("\n".join([f"ImageId,{lines[0]}"] + [
        f"{28001 + i},{row}" for i, row in enumerate(lines[1:])]) + "\n", encoding="utf-8")
    result = run_in_process(tmp_path, [f"--PREDICT={part}", f"--WEIGHTS={weights}"], monkeypatch)
    assert result.returncode == 0, result.stderr
    written = (weights.parent / "predictions-part2.csv").read_text().splitlines()
    assert written[0] == "ImageId,Label"
    assert [row.split(",")[0] for row in written[1:]] == [str(28001 + i) for i in range(25)]


def test_predictions_of_two_inputs_of_one_name_never_replace_each_other(tmp_path, weights,
                                                                         mnist, monkeypatch):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        head_lines(mnist["test"], tmp_path / folder / "test.csv", 10 + (folder == "b"))
        result = run_in_process(tmp_path, [f"--PREDICT={folder}/test.csv",
                                           f"--WEIGHTS={weights}"], monkeypatch)
        assert result.returncode == 0, result.stderr
    outputs = sorted(weights.parent.glob("predictions-test*.csv"))
    assert [len(p.read_text().splitlines()) for p in outputs] in ([11, 12], [12, 11])


def test_predict_in_a_legacy_encoding_prints_escapes(tmp_path, weights, digit_png):
    """Output redirected on Windows is cp1252: a picture named in Chinese prints as escapes
    (issue 21, item 2), and its picture's title too, where the font has no glyph."""
    (tmp_path / "数字7.png").write_bytes(digit_png.read_bytes())
    result = subprocess.run([sys.executable, str(MAIN), "--PREDICT=数字7.png",
                             f"--WEIGHTS={weights}"], cwd=tmp_path, capture_output=True,
                            env={**os.environ, "PYTHONIOENCODING": "cp1252"}, timeout=120, check=False)
    out, err = result.stdout.decode("cp1252"), result.stderr.decode("cp1252")
    assert result.returncode == 0, err
    assert "\\u6570\\u5b577.png (weights" in out, out
    assert (weights.parent / "predicted-数字7-png.png").is_file()


def test_a_file_name_that_is_not_utf8_is_drawn_in_the_title(tmp_path, monkeypatch):
    """A file name with bytes that are not UTF-8 (held as surrogates) and characters the font
    lacks: the picture is drawn, its title shows the name with escapes."""
    titles = []
    monkeypatch.setattr(plots, "_save_figure", lambda fig, path, dpi=110: titles.append(
        fig._suptitle.get_text()))
    name = b"bad\xff".decode("utf-8", "surrogateescape") + "数字.png"
    image, x, P = draw("seven"), np.zeros(784, np.uint8), np.full(10, 0.1)
    path = plots.draw(str(tmp_path / "p.png"), plots.plot_prediction, image, x, P, name)
    assert path is not None and titles == ["bad\\xff\\u6570\\u5b57.png"]


def test_predict_a_missing_image(tmp_path, weights):
    result = run_cli(tmp_path, "--PREDICT=nothere.png", f"--WEIGHTS={weights}")
    assert_user_error(result, "nothere.png: ")


@pytest.mark.parametrize("content", ["random-bytes", "png-signature-then-garbage", "empty"])
def test_predict_a_corrupt_image(tmp_path, weights, content):
    garbage = np.random.default_rng(6).integers(0, 256, 3000, dtype=np.uint8).tobytes()
    (tmp_path / "x.png").write_bytes({"random-bytes": garbage, "empty": b"",
                                      "png-signature-then-garbage": PNG + garbage}[content])
    result = run_cli(tmp_path, "--PREDICT=x.png", f"--WEIGHTS={weights}")
    assert_user_error(result, "x.png: ")


def test_predict_a_blank_image(tmp_path, weights):
    import matplotlib.pyplot as plt  # only the PNG needs it

    plt.imsave(tmp_path / "blank.png", np.ones((40, 30)), cmap="gray", vmin=0, vmax=1)
    result = run_cli(tmp_path, "--PREDICT=blank.png", f"--WEIGHTS={weights}")
    assert_user_error(result, "blank.png: ")


def test_predict_without_weights_says_how_to_train_them(tmp_path, digit_png):
    result = run_cli(tmp_path, f"--PREDICT={digit_png}", "--LAYERS=[784,16,10]",
                     "--RUNS_DIR=runs")
    message = assert_user_error(result, "runs/784-16-10/weights.pkl: ")
    assert "python main.py '--LAYERS=[784,16,10]'" in message


def test_the_command_to_train_the_weights_keeps_another_runs_dir(tmp_path, digit_png):
    """The suggested command trains where --PREDICT will look: with RUNS_DIR too."""
    result = run_cli(tmp_path, f"--PREDICT={digit_png}", "--LAYERS=[784,16,10]",
                     "--RUNS_DIR=elsewhere")
    message = assert_user_error(result, "elsewhere/784-16-10/weights.pkl: ")
    assert message.endswith("python main.py '--LAYERS=[784,16,10]' --RUNS_DIR=elsewhere"), message


def test_predict_with_a_missing_weights_file_named(tmp_path, digit_png):
    result = run_cli(tmp_path, f"--PREDICT={digit_png}", "--WEIGHTS=missing.pkl")
    message = assert_user_error(result, "missing.pkl: ")
    assert message == "missing.pkl: no such weights file"  # no command would write it there


def test_started_from_another_folder_the_projects_files_are_found(tmp_path, monkeypatch):
    """An IDE's Run button or a cron job starts main.py elsewhere (issue 21, item 4): the
    project's train.csv and test.csv are read, and --PREDICT finds the run's weights in the
    project's runs/, then at runs/<layers>.pkl, where the first version saved them; each
    time the run says which file it used. (settings.PROJECT is pointed at a tiny project.)"""
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    tiny_project(project)
    write_files(elsewhere, {"rows.csv": csv_text(table(5))})
    monkeypatch.setattr(settings, "PROJECT", str(project), raising=False)
    args = ["--LAYERS=[4,3,10]", "--EPOCHS=1"]
    result = run_in_process(elsewhere, args, monkeypatch)
    assert result.returncode == 0, result
    assert f"reading the project's, {project / 'train.csv'}" in result.stdout
    assert f"reading the project's, {project / 'test.csv'}" in result.stdout
    assert (elsewhere / "runs" / "4-3-10,EPOCHS=1" / "weights.pkl").is_file()  # writes here
    trained = run_in_process(project, args, monkeypatch)
    assert trained.returncode == 0, trained
    weights = project / "runs" / "4-3-10,EPOCHS=1" / "weights.pkl"
    (elsewhere / "runs" / "4-3-10,EPOCHS=1" / "weights.pkl").unlink()
    predicted = run_in_process(elsewhere, [*args, "--PREDICT=rows.csv"], monkeypatch)
    assert predicted.returncode == 0, predicted
    assert f"reading {weights} (the project's folder)" in predicted.stdout
    first = project / "runs" / "4-3-10.pkl"
    weights.rename(first)
    predicted = run_in_process(elsewhere, [*args, "--PREDICT=rows.csv"], monkeypatch)
    assert predicted.returncode == 0, predicted
    assert f"reading {first} (the project's first version" in predicted.stdout


def test_predict_while_the_run_still_trains_says_so(tmp_path, digit_png):
    folder = tmp_path / "runs" / "784-256-128-64-10"
    folder.mkdir(parents=True)
    (folder / "checkpoint.pkl").write_bytes(b"\x80\x04N.")  # as a training run leaves it
    (folder / "settings.json").write_text(json.dumps(runs.recorded(main.DEFAULTS)))
    result = run_cli(tmp_path, f"--PREDICT={digit_png}")
    weights = Path("runs") / "784-256-128-64-10" / "weights.pkl"
    assert_user_error(result, f"{weights}: no weights yet: the run of this folder is still "
                              "training, or was stopped before its first save")
    named = run_cli(tmp_path, f"--PREDICT={digit_png}", f"--WEIGHTS={weights}")  # named as well
    assert_user_error(named, f"{weights}: no weights yet: the run of this folder is still "
                             "training")


# ----------------------------------------------------------------------------
# the command line as a tool: --help, runs that keep their own results, the log


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_prints_every_setting_and_exits_0(tmp_path, flag):
    result = run_cli(tmp_path, flag)
    assert result.returncode == 0, result
    assert result.stderr == ""
    for name in main.DEFAULTS:
        assert re.search(rf"^\s+{name} = ", result.stdout, re.MULTILINE), name
    assert "Outputs:" in result.stdout
    assert not (tmp_path / "runs").exists()


def test_two_runs_that_differ_in_one_setting_keep_their_own_results(mnist, tmp_path):
    for seed in (0, 1):
        result = run_cli(tmp_path, *mnist_args(mnist, tmp_path, "--EPOCHS=1", f"--SEED={seed}"))
        assert result.returncode == 0, result
        listed = [line.strip() for line in result.stdout.split("wrote:\n")[-1].splitlines()]
        assert all(Path(p).is_file() for p in listed), listed
    folders = sorted(p for p in (tmp_path / "runs").iterdir() if p.is_dir())
    assert len(folders) == 2 and folders[1].name.endswith(",SEED=1"), folders
    weights = [runs.load_weights(str(f / "weights.pkl")) for f in folders]
    assert [w["config"]["SEED"] for w in weights] == [0, 1]
    assert not np.array_equal(weights[0]["params"][0]["W"], weights[1]["params"][0]["W"])
    for folder in folders:
        for name in ("curves.png", "confusion.png", "mistakes.png", "settings.json"):
            assert (folder / name).is_file(), folder / name
    log = runs.read_log(str(tmp_path / "runs"))
    assert log.splitlines()[0].startswith("2 runs")
    printed = run_cli(tmp_path, f"--RUNS_DIR={tmp_path / 'runs'}", "--RUNS")
    assert printed.returncode == 0 and log in printed.stdout


def test_the_same_command_writes_the_same_folder_again(mnist, tmp_path):
    args = mnist_args(mnist, tmp_path, "--EPOCHS=1", "--THREADS=1")  # the same threads, the same bits
    first, second = run_cli(tmp_path, *args), run_cli(tmp_path, *args)
    assert first.returncode == second.returncode == 0, (first, second)
    assert "holds an earlier run of these settings" in second.stdout
    assert len([p for p in (tmp_path / "runs").iterdir() if p.is_dir()]) == 1
    rows = (tmp_path / "runs" / "log.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 3
    accuracy = [line for line in first.stdout.splitlines() if line.startswith("test accuracy")]
    assert accuracy == [line for line in second.stdout.splitlines()
                        if line.startswith("test accuracy")]


def test_the_summary_counts_every_parameter(mnist, tmp_path):
    result = run_cli(tmp_path, *mnist_args(mnist, tmp_path, "--EPOCHS=1"))
    rows = re.findall(r"^  (\d+) +(\d+) x (\d+) +([\d,]+)  (\w+)", result.stdout, re.MULTILINE)
    assert [(int(n_in), int(n_out)) for _, n_in, n_out, _, _ in rows] == [(784, 16), (16, 10)]
    assert [r[4] for r in rows] == ["relu", "softmax"]
    total = re.search(r"^  total +([\d,]+)$", result.stdout, re.MULTILINE).group(1)
    assert int(total.replace(",", "")) == utils.count_params([784, 16, 10]) == sum(
        int(r[3].replace(",", "")) for r in rows)


def test_a_readme_example_leaves_the_repository_unchanged(tmp_path):
    """Run a command the README shows in a copy of the project: its own files (all but what
    .gitignore ignores) keep their contents, and no file is added. No git is needed: a copy
    made with "Download ZIP" or git archive runs this too (issue 21, item 15)."""
    copy = tmp_path / "repo"
    for name in project_files(ROOT):
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".csv"):
            os.link(ROOT / name, copy / name)  # read only: no need to copy 128 MB
        else:
            (copy / name).write_bytes((ROOT / name).read_bytes())
    before = contents(copy)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert 'python main.py "--LAYERS=[784,10,10]"' in readme
    result = run_cli(copy, "--LAYERS=[784,10,10]", "--EPOCHS=1", timeout=300)
    assert result.returncode == 0, result
    assert (copy / "runs").is_dir()  # it wrote, where .gitignore ignores
    assert contents(copy) == before


def test_project_files_and_contents_need_no_git(tmp_path):
    """The helpers of the test above on a tiny tree without .git: what .gitignore ignores is
    left out, and a changed, added or removed file changes the contents."""
    write_files(tmp_path, {".gitignore": "# comment\n__pycache__/\n*.pkl\nruns/\n",
                           "main.py": "x = 1\n", "sub": None, "sub/keep.csv": "a\n",
                           "runs": None, "runs/log.csv": "r\n", "sub/w.pkl": "p",
                           "__pycache__": None, "__pycache__/m.pyc": "c"})
    assert project_files(tmp_path) == [".gitignore", "main.py", "sub/keep.csv"]
    before = contents(tmp_path)
    (tmp_path / "runs" / "new.csv").write_text("ignored")
    assert contents(tmp_path) == before
    (tmp_path / "main.py").write_text("x = 2\n")
    assert contents(tmp_path) != before
    (tmp_path / "main.py").write_text("x = 1\n")
    (tmp_path / "sub" / "new.txt").write_text("added")
    assert contents(tmp_path) != before
    (tmp_path / "sub" / "new.txt").unlink()
    (tmp_path / "sub" / "keep.csv").unlink()
    assert contents(tmp_path) != before


# ----------------------------------------------------------------------------
# outputs that cannot be written


def test_runs_dir_under_a_file_stops_before_loading_any_data(mnist, tmp_path):
    (tmp_path / "a-file").write_text("x")
    result = run_cli(tmp_path, *mnist_args(mnist, tmp_path), "--RUNS_DIR=a-file/runs")
    assert_user_error(result, "a-file/runs: ", ["is a file", "RUNS_DIR"])
    assert "loaded" not in result.stdout


def test_a_read_only_runs_dir_stops_before_loading_any_data(tmp_path, monkeypatch):
    """As on a read-only mount (simulated: the tests may run as root, who can write anywhere)."""
    import tempfile

    tiny_project(tmp_path)

    def read_only(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(tempfile, "TemporaryFile", read_only)
    result = run_in_process(tmp_path, BASE_ARGS, monkeypatch)
    assert_user_error(result, "runs: ", ["Read-only file system", "RUNS_DIR"])
    assert "loaded" not in result.stdout


def test_pictures_that_cannot_be_written_are_a_warning_and_the_weights_stay(tmp_path,
                                                                           monkeypatch):
    import plots

    tiny_project(tmp_path)

    def full(fig, path, dpi=110):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(plots, "_save_figure", full)
    result = run_in_process(tmp_path, BASE_ARGS, monkeypatch)
    assert result.returncode == 0, result
    warnings_ = [line for line in result.stdout.splitlines()
                 if line.startswith("warning: could not draw")]
    assert len(warnings_) == 6 and all("No space left" in w for w in warnings_), result.stdout
    assert (only_run(tmp_path / "runs") / "weights.pkl").is_file()


def test_weights_that_cannot_be_written_go_to_the_temporary_folder_exit_4(tmp_path,
                                                                         monkeypatch):
    import tempfile

    tiny_project(tmp_path)
    real = runs.save_weights

    def full(path, result):
        if str(tmp_path / "runs") in os.path.abspath(path):
            raise OSError(28, "No space left on device", path)
        real(path, result)

    monkeypatch.setattr(runs, "save_weights", full)
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path / "spare"))
    result = run_in_process(tmp_path, [*BASE_ARGS, "--EPOCHS=2"], monkeypatch)  # a checkpoint
    assert result.returncode == 4, result
    assert "Traceback" not in result.stderr
    (spare,) = (tmp_path / "spare").rglob("weights.pkl")
    assert runs.load_weights(str(spare))["status"] == "finished"
    assert str(spare) in result.stdout
    # the run finished: its checkpoint, stale, goes (it held the space the weights needed,
    # and would have the same command refused as an unfinished run's, or retrained)
    assert not list((tmp_path / "runs").rglob("checkpoint.pkl"))


def test_weights_that_only_the_checkpoints_space_keeps_out_take_it_never_losing_both(
        tmp_path, monkeypatch):
    """A nearly full disk (issue item 4): the weights do not fit while the run's own
    checkpoint holds the space. They go to the temporary folder first; only then does the
    checkpoint go, and the weights are written where they belong, the spare removed. At
    every moment the checkpoint or a whole weights file is on disk."""
    import tempfile

    tiny_project(tmp_path)
    real_save, real_remove, spare = runs.save_weights, runs.remove, tmp_path / "spare"

    def full_while_the_checkpoint_is_there(path, result):
        if os.path.exists(os.path.join(os.path.dirname(path), "checkpoint.pkl")):
            raise OSError(28, "No space left on device", path)
        real_save(path, result)

    def remove(path):
        if os.path.basename(path) == "checkpoint.pkl" and os.path.exists(path):
            assert [runs.load_weights(str(p))["status"] for p in spare.rglob("weights.pkl")] \
                == ["finished"], "the checkpoint went before the weights were safe elsewhere"
        real_remove(path)

    monkeypatch.setattr(runs, "save_weights", full_while_the_checkpoint_is_there)
    monkeypatch.setattr(runs, "remove", remove)
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(spare))
    result = run_in_process(tmp_path, [*BASE_ARGS, "--EPOCHS=2"], monkeypatch)
    assert result.returncode == 0, result
    folder = only_run(tmp_path / "runs")
    assert runs.load_weights(str(folder / "weights.pkl"))["status"] == "finished"
    assert not (folder / "checkpoint.pkl").exists()
    assert not list(spare.rglob("*")), "the spare copy is left behind"


# ----------------------------------------------------------------------------
# COMPARE of any settings, and scoring saved weights on a labelled file


def test_compare_two_dicts_of_settings(mnist, tmp_path):
    result = run_cli(tmp_path, *mnist_args(mnist, tmp_path, "--EPOCHS=1"),
                     '--COMPARE=[{"ACTIVATION": "relu"}, {"ACTIVATION": "tanh"}]')
    assert result.returncode == 0, result
    (compared,) = (tmp_path / "runs").glob("compare,*")
    assert "ACTIVATION=relu" in compared.name and "ACTIVATION=tanh" in compared.name
    assert_small_png(compared / "compare.png")
    rows = (compared / "compare.md").read_text(encoding="utf-8").splitlines()[2:]
    assert [row.split("|")[1].strip() for row in rows] == ["ACTIVATION=relu", "ACTIVATION=tanh"]
    epochs = re.findall(r"^\[(\d)/2 ACTIVATION=(\w+)\] epoch 1/1 ", result.stdout, re.MULTILINE)
    assert epochs == [("1", "relu"), ("2", "tanh")], result.stdout


def test_compare_names_every_entry_by_what_differs_and_zooms_on_the_learned(tmp_path,
                                                                           monkeypatch):
    """--ACTIVATION=sigmoid with entries BATCH_NORM False, True and ACTIVATION relu (issue 21,
    item 10): the title does not call sigmoid common, the folder names all three entries, the
    legend tells them apart, and the accuracy axis zooms on the two that learned (96.1% and
    95.8%) rather than on their first epochs."""
    with contextlib.redirect_stdout(io.StringIO()):
        c = settings.configure(main.DEFAULTS, [
            "--ACTIVATION=sigmoid", f"--RUNS_DIR={tmp_path}",
            "--COMPARE=[{'BATCH_NORM': False}, {'BATCH_NORM': True}, {'ACTIVATION': 'relu'}]"])
    entries = settings.compare_entries(c)
    curves = [(0.11, 0.11, 0.11), (0.45, 0.93, 0.961), (0.85, 0.95, 0.958)]
    results = [{"history": {"epoch": [1, 2, 3], "val_acc": list(accs), "val_loss": [1.0] * 3},
                "chance": 0.1135, "test_accuracy": accs[-1], "train_seconds": 1.0,
                "layers": config["LAYERS"], "config": config, "status": "finished"}
               for (_, config), accs in zip(entries, curves)]
    figures = []
    monkeypatch.setattr(plots, "_save_figure", lambda fig, path, dpi=110: figures.append(fig))
    with contextlib.redirect_stdout(io.StringIO()):
        plots.write_comparison(c, [label for label, _ in entries], results, settings.SHIPPED)
    (folder,) = tmp_path.glob("compare,*")
    for entry in ("BATCH_NORM=False", "BATCH_NORM=True", "ACTIVATION=relu"):
        assert f",{entry}," in folder.name, folder.name
    (fig,) = figures
    assert "sigmoid" not in fig._suptitle.get_text(), fig._suptitle.get_text()
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(set(legend)) == 3 and any("relu" in t for t in legend), legend
    low, top = fig.axes[0].get_ylim()
    assert 0.85 <= low < 0.958 and 0.961 < top <= 1.0, (low, top)


def test_compare_with_an_unknown_setting_is_one_line(mnist, tmp_path):
    result = run_cli(tmp_path, *mnist_args(mnist, tmp_path),
                     '--COMPARE=[{"ACTIVATON": "tanh"}]')
    assert_user_error(result, "COMPARE[0]: ", ["did you mean ACTIVATION"])


def test_predict_a_labelled_csv_draws_its_confusion_and_mistakes(tmp_path, weights, mnist):
    csv_path = head_lines(mnist["test-300"], tmp_path / "labelled.csv", 50)
    result = run_cli(tmp_path, f"--PREDICT={csv_path}", f"--WEIGHTS={weights}")
    assert result.returncode == 0, result
    for name in ("confusion-labelled.png", "mistakes-labelled.png"):
        assert_small_png(weights.parent / name)
        assert str(weights.parent / name) in result.stdout


def test_predict_with_a_committee_averages_its_members(tmp_path, weights, mnist, monkeypatch):
    """--WEIGHTS as a list: a committee (committee.py). A labelled CSV's report gives each
    member's accuracy and the committee's; the predictions are the argmax of the members' mean
    probabilities, written beside the first member under a name of their own, so the first
    member's own predictions stay; a list of one is that network, names included."""
    other = tmp_path / "other.pkl"
    runs.save_weights(str(other), {"layers": [784, 16, 16, 10], "config": {"ACTIVATION": "tanh"},
                                   "params": utils.init_params([784, 16, 16, 10],
                                                               np.random.default_rng(6))})
    csv_path = head_lines(mnist["test-300"], tmp_path / "committee.csv", 40)
    alone = run_in_process(tmp_path, [f"--PREDICT={csv_path}", f"--WEIGHTS=[{str(weights)!r}]"],
                           monkeypatch)
    assert alone.returncode == 0, alone
    own = (weights.parent / "predictions-committee.csv").read_text(encoding="utf-8")
    both = run_in_process(tmp_path, [f"--PREDICT={csv_path}",
                                     f"--WEIGHTS=[{str(weights)!r}, {str(other)!r}]"], monkeypatch)
    assert both.returncode == 0, both
    X, y = data.load_csv(str(csv_path))
    P = [utils.softmax(utils.predict_logits(s["params"], X, s["config"]["ACTIVATION"]))
         for s in map(runs.load_weights, (str(weights), str(other)))]
    mean = (P[0] + P[1]) / 2
    lines = both.stdout.splitlines()
    assert f"  {weights}: {utils.accuracy(P[0], y):.2%}" in lines, both.stdout
    assert f"  {other}: {utils.accuracy(P[1], y):.2%}" in lines, both.stdout
    assert f"  the committee of 2 (mean probabilities): {utils.accuracy(mean, y):.2%}" in lines
    (written,) = weights.parent.glob("predictions-committee-committee2-*.csv")
    labels = [int(row.split(",")[1]) for row in written.read_text().splitlines()[1:]]
    assert labels == mean.argmax(axis=1).tolist()
    assert (weights.parent / "predictions-committee.csv").read_text(encoding="utf-8") == own
    assert [int(row.split(",")[1]) for row in own.splitlines()[1:]] == \
        P[0].argmax(axis=1).tolist()


@pytest.mark.parametrize("value, says", [
    ("[]", "a committee is a list of weights files"),
    ("[1, 2]", "a committee is a list of weights files"),
    ("['missing.pkl']", "missing.pkl"),
])
def test_predict_with_a_bad_committee_is_one_line(tmp_path, digit_png, value, says):
    result = run_cli(tmp_path, f"--PREDICT={digit_png}", f"--WEIGHTS={value}")
    assert_user_error(result, contains=[says])


@pytest.fixture(scope="module")
def trained_weights(tmp_path_factory):
    """A weights file of [784, 64, 10] trained for 3 epochs on 2,500 rows (about 90% right),
    and 40 test rows it gets right with at least 90% confidence."""
    folder = tmp_path_factory.mktemp("trained-weights")
    X, y = data.load_csv(str(head_lines(ROOT / "train.csv", folder / "train.csv", 2500)))
    rng = np.random.default_rng(0)
    params = utils.init_params([784, 64, 10], rng)
    state = utils.init_state(params, "momentum")
    for _ in range(3):
        utils.train_epoch(params, state, X, y, 50, rng, lambda step: 0.05,
                          lambda Xb, r: augment.random_shift(Xb, 1, r), optimiser="momentum")
    path = folder / "net.pkl"
    runs.save_weights(str(path), {"layers": [784, 64, 10], "params": params,
                                  "config": {"ACTIVATION": "relu"}})
    X_test, y_test = data.load_csv(str(head_lines(ROOT / "test.csv", folder / "test.csv", 200)))
    P = utils.softmax(utils.predict_logits(params, X_test))
    sure = np.flatnonzero((P.argmax(axis=1) == y_test) & (P.max(axis=1) > 0.9))[:40]
    return path, X_test[sure], y_test[sure]


@pytest.mark.parametrize("style", ["canvas", "exif", "shaded"])
def test_predict_a_drawn_or_photographed_digit_names_it(tmp_path, trained_weights, style):
    """A canvas export, a sideways phone photo, shaded paper: the program names the digit
    it was drawn from first, says nothing doubtful, and shows what the network saw."""
    path, X, y = trained_weights
    i = photos.STYLES.index(style)  # a different digit for each style
    picture = photos.write_picture(style, X[i], str(tmp_path / f"digit{i}"),
                                   np.random.default_rng(3), i)
    result = run_cli(tmp_path, f"--PREDICT={picture}", f"--WEIGHTS={path}")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    first = re.search(r"^  (\d): ", result.stdout, re.MULTILINE)
    assert first and int(first.group(1)) == y[i], (y[i], result.stdout)
    assert_small_png(next(path.parent.glob(f"predicted-digit{i}-*.png")))


def test_predict_a_shape_unlike_a_digit_warns_and_answers(tmp_path, weights):
    from PIL import Image

    grey = np.full((240, 240), 230, dtype=np.uint8)
    grey[100:130, 90:120] = 20
    Image.fromarray(grey).save(tmp_path / "square.png")
    result = run_cli(tmp_path, "--PREDICT=square.png", f"--WEIGHTS={weights}")
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("warning: square.png: "), result.stderr
    assert result.stderr.count("\n") == 1
    assert len(re.findall(r"^  \d: ", result.stdout, re.MULTILINE)) == 3


@pytest.mark.parametrize("make", [write_animation, write_bomb], ids=["animated", "bomb"])
def test_predict_a_file_that_is_not_one_picture(tmp_path, weights, make):
    make(tmp_path / "x.gif")
    assert_user_error(run_cli(tmp_path, "--PREDICT=x.gif", f"--WEIGHTS={weights}"), "x.gif: ")
    assert not list(weights.parent.glob("predicted-x*.png"))


# ----------------------------------------------------------------------------
# CSV layouts through the program


def test_a_headerless_train_file_and_a_semicolon_test_file_train(tmp_path, monkeypatch):
    """The layouts are read, each said in one line, and the run ends well."""
    rows = table(30)
    tiny_project(tmp_path, {
        "train.csv": "".join(",".join(row) + "\n" for row in rows),
        "test.csv": csv_text(table(20)).replace(",", ";"),
    })
    result = run_in_process(tmp_path, BASE_ARGS, monkeypatch)
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert ("train.csv: no header line; column 1 read as the label (5 columns: a label and "
            "2x2 pixels)") in lines
    assert "test.csv: separated by ';'" in lines
    assert (only_run(tmp_path / "runs") / "weights.pkl").is_file()


def test_predict_a_tab_separated_file_of_fractions(tmp_path, weights, mnist):
    X, y = data.load_csv(str(mnist["test-300"]))
    lines = ["\t".join([str(label)] + [f"{v / 255:.6f}".replace(".", ",") for v in row])
             for label, row in zip(y[:20], X[:20])]
    (tmp_path / "digits.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_cli(tmp_path, "--PREDICT=digits.tsv", f"--WEIGHTS={weights}",
                     f"--RUNS_DIR={tmp_path / 'runs'}")
    assert result.returncode == 0, result.stderr
    assert ("digits.tsv: tab-separated, with decimal commas; no header line; column 1 read as "
            "the label (785 columns: a label and 28x28 pixels); pixels 0..1 scaled to 0..255"
            ) in result.stdout.splitlines()
    labels = [int(line.split(",")[1]) for line in
              (weights.parent / "predictions-digits-tsv.csv").read_text().splitlines()[1:]]
    saved = runs.load_weights(str(weights))
    assert labels == utils.predict_logits(saved["params"], X[:20]).argmax(axis=1).tolist()


def test_predict_says_when_the_picture_of_what_it_saw_cannot_be_written(tmp_path, weights,
                                                                         digit_png):
    """The answer is printed; a picture that cannot be written is then a one-line warning,
    as for every picture (here a folder stands where the picture would go)."""
    folder = tmp_path / "w"
    folder.mkdir()
    (folder / "w.pkl").write_bytes(weights.read_bytes())
    (folder / "predicted-seven-png.png").mkdir()
    result = run_cli(tmp_path, f"--PREDICT={digit_png}", f"--WEIGHTS={folder / 'w.pkl'}")
    assert result.returncode == 0, result
    warning = [line for line in result.stdout.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and str(folder / "predicted-seven-png.png") in warning[0], result
    assert "Traceback" not in result.stderr
    assert len(re.findall(r"^  \d: ", result.stdout, re.MULTILINE)) == 3
    assert sorted(folder.iterdir()) == [folder / "predicted-seven-png.png",
                                        folder / "predicted.json", folder / "w.pkl"], \
        "a temporary file was left behind"


def test_a_reader_that_goes_away_ends_the_output_quietly(tmp_path):
    """python main.py --RUNS | head -1 on a long log: no traceback, no error line."""
    row = "2026-11-29T10:00:00,run{},finished,2,2,0.9,0.{},1.0,LAYERS=4-3-10\n"
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "log.csv").write_text(
        ",".join(runs.LOG_COLUMNS) + "\n" + "".join(row.format(i, i) for i in range(20000)))
    proc = subprocess.Popen([sys.executable, str(MAIN), "--RUNS"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    proc.stdout.read(100)
    proc.stdout.close()  # as head does once it has its lines; the rest cannot be written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, err
    assert err == "", err


# ----------------------------------------------------------------------------
# a folder without its settings, a full disk, weights of NaN, too little memory


def test_a_run_of_other_settings_never_replaces_weights_whose_settings_json_is_gone(
        tmp_path, monkeypatch):
    tiny_project(tmp_path)
    first = run_in_process(tmp_path, [*BASE_ARGS, "--NAME=mine"], monkeypatch)
    assert first.returncode == 0, first
    weights = tmp_path / "runs" / "mine" / "weights.pkl"
    before = weights.read_bytes()
    (tmp_path / "runs" / "mine" / "settings.json").unlink()
    other = run_in_process(tmp_path, [*BASE_ARGS, "--NAME=mine", "--LAYERS=[4,5,10]"],
                           monkeypatch)
    assert_user_error(other, f"{os.path.join('runs', 'mine')}: holds a run with other settings",
                      ["LAYERS [4, 3, 10] there, [4, 5, 10] here", "choose another NAME"])
    assert weights.read_bytes() == before


def test_a_run_whose_folder_is_deleted_while_it_trains_writes_what_it_lists(tmp_path,
                                                                          monkeypatch):
    import shutil

    tiny_project(tmp_path)
    real = utils.train_epoch  # main.py runs as a module of its own: patch what it calls

    def deleted_meanwhile(*args, **kwargs):
        shutil.rmtree(only_run(tmp_path / "runs"))  # as `rm -r` in another terminal
        return real(*args, **kwargs)

    monkeypatch.setattr(utils, "train_epoch", deleted_meanwhile)
    result = run_in_process(tmp_path, BASE_ARGS, monkeypatch)
    assert result.returncode == 0, result
    listed = [line.strip() for line in result.stdout.split("wrote:\n")[-1].splitlines()]
    assert any(p.endswith("settings.json") for p in listed), listed
    assert all(Path(p).is_file() for p in listed), listed
    assert (only_run(tmp_path / "runs") / ".lock").exists()


def test_a_full_disk_is_refused_before_loading_naming_the_space(tmp_path, monkeypatch):
    import shutil

    tiny_project(tmp_path)
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=0))
    result = run_in_process(tmp_path, BASE_ARGS, monkeypatch)
    assert_user_error(result, "runs: its disk has 0 MB free", ["writes about", "RUNS_DIR"])
    assert "loaded" not in result.stdout
    assert not (tmp_path / "runs").exists()


def test_a_disk_that_fills_while_writing_names_the_file(tmp_path, monkeypatch):
    """ENOSPC from every write, the temporary folder's too: one line naming a file, exit 4."""
    tiny_project(tmp_path)

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    result = run_in_process(tmp_path, BASE_ARGS, monkeypatch)
    assert result.returncode == 4, result
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result
    assert re.fullmatch(r"error: \S*runs/4-3-10,EPOCHS=1/settings\.json: could not be written "
                        r"\(No space left on device\)\n", result.stderr), result.stderr


def test_predictions_that_cannot_be_written_beside_the_weights_go_to_the_temporary_folder(
        tmp_path, monkeypatch, weights, mnist):
    """A weights file in a read-only folder (simulated: the tests may run as root)."""
    import shutil
    import tempfile

    read_only = tmp_path / "ro"
    read_only.mkdir()
    shutil.copy(weights, read_only / "w.pkl")
    csv_path = head_lines(mnist["test-300"], tmp_path / "digits.csv", 12)
    real = tempfile.mkstemp

    def refused(*args, dir=None, **kwargs):
        if dir and Path(dir) == read_only:
            raise PermissionError(13, "Permission denied", str(read_only / ".tmp-x"))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path / "spare"))
    result = run_in_process(tmp_path, [f"--PREDICT={csv_path}", f"--WEIGHTS={read_only}/w.pkl"],
                            monkeypatch)
    assert result.returncode == 4, result
    assert "Traceback" not in result.stderr and ".tmp-" not in result.stderr, result
    (spare,) = (tmp_path / "spare").rglob("predictions-digits.csv")
    assert len(spare.read_text().splitlines()) == 13
    assert (f"warning: could not write {read_only}/predictions-digits.csv (Permission denied); "
            f"the predictions are in {spare}") in result.stderr.splitlines(), result.stderr


def test_weights_of_nan_are_refused_in_one_line(tmp_path, mnist):
    layers = [784, 16, 10]
    params = utils.init_params(layers, np.random.default_rng(5))
    params[0]["W"][:] = np.nan
    runs.save_weights(str(tmp_path / "nan.pkl"), {"layers": layers, "params": params,
                                                  "config": {"ACTIVATION": "relu"}})
    result = run_cli(tmp_path, f"--PREDICT={mnist['test-300']}", "--WEIGHTS=nan.pkl")
    assert_user_error(result, "nan.pkl: its W of layer 1 holds NaN or infinite values")
    assert not list(tmp_path.glob("predictions-*"))


def test_a_network_too_big_for_the_memory_is_refused_before_loading(tmp_path, monkeypatch):
    import machine

    tiny_project(tmp_path)
    monkeypatch.setattr(machine, "available_memory", lambda: 100 * 10**6)
    result = run_in_process(tmp_path, BASE_ARGS, monkeypatch)
    assert_user_error(result, "LAYERS = [4, 3, 10] with BATCH_SIZE = 128 needs about ",
                      ["of memory", "100 MB is available"])
    assert "loaded" not in result.stdout and not (tmp_path / "runs").exists()


def test_running_out_of_memory_is_one_line_exit_5_leaving_no_empty_folder(tmp_path,
                                                                          monkeypatch):
    tiny_project(tmp_path)

    def too_big(*args, **kwargs):
        return np.empty((10**6, 10**7))  # 80 TB: NumPy's own MemoryError, whatever the machine

    monkeypatch.setattr(utils, "init_params", too_big)  # main.py calls it through utils
    result = run_in_process(tmp_path, BASE_ARGS, monkeypatch)
    assert result.returncode == 5, result
    assert re.fullmatch(r"error: out of memory \(Unable to allocate [^\n]*\); try fewer or "
                        r"narrower LAYERS, or a smaller BATCH_SIZE\n", result.stderr), result
    assert not [p for p in (tmp_path / "runs").glob("*") if p.is_dir()], "an empty run folder"
    monkeypatch.undo()
    again = run_in_process(tmp_path, BASE_ARGS, monkeypatch)
    assert again.returncode == 0 and "holds an earlier run" not in again.stdout, again


@pytest.mark.parametrize(("scores", "kept"), [
    ([(0.5, 0.90), (0.5, 0.90), (0.5, 0.90)], 1),  # a tie keeps the earlier epoch
    ([(0.6, 0.90), (0.4, 0.90), (0.5, 0.90)], 2),  # equal accuracy: the lower loss wins
    ([(0.3, 0.80), (0.9, 0.95), (0.2, 0.90)], 2),  # the higher accuracy wins over any loss
])
def test_the_kept_epoch_is_the_best_validation_accuracy_then_loss(mnist_small, monkeypatch,
                                                                  scores, kept):
    """The kept weights are those of the best validation accuracy, ties broken by the lower
    validation loss, exact ties by the earlier epoch (validation figures faked here)."""
    X, y = mnist_small
    given = iter(scores)
    monkeypatch.setattr(utils, "evaluate", lambda *args, **kwargs: next(given))
    c = dict(main.DEFAULTS, LAYERS=[784, 8, 10], EPOCHS=3, THREADS=1)
    with contextlib.redirect_stdout(io.StringIO()):
        result = main.train(c, X[:300], y[:300], X[300:400], y[300:400],
                            np.random.default_rng(0))
    assert result["best_epoch"] == kept


def test_a_ctrl_c_during_a_held_import_acts_once_the_import_is_done():
    """stopping.signals_held (around matplotlib's first import): a SIGINT that arrives inside
    the block waits, and the KeyboardInterrupt comes after the block, not in the middle of
    an extension module's initialisation (which once aborted the interpreter)."""
    reached = []
    with pytest.raises(KeyboardInterrupt), stopping.signals_held():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # without the block, the interrupt would come here
        reached.append("the end of the block")
    assert reached == ["the end of the block"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # as it was
