"""Issue 5: bad input is refused with one line and exit status 2, and runs end cleanly.

A user error must print exactly one line, `error: <file>: line L, column C
(name): ...` or a setting error, on stderr, exit with status 2 and write
nothing. The many bad-input cases run main.py in this process through runpy
(as `python main.py` would, including its `if __name__ == "__main__"` block),
with every warning that Python would print counted as a line of stderr; a
sample of them also runs as a real subprocess. Then the ends of a run: an
unlabeled test file, a diverging learning rate, Ctrl-C, a crash while saving,
a malicious or broken weights file, and random malformed CSVs.
"""

import contextlib
import io
import itertools
import os
import pickle
import runpy
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import hypothesis
import numpy as np
import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import data  # after the sys.path entry above
import runs
import utils

MAIN = ROOT / "main.py"

# ----------------------------------------------------------------------------
# helpers

HEADER = "label,pixel0,pixel1,pixel2,pixel3"  # 4 pixel columns, for --LAYERS=[4,3,10]
BASE_ARGS = ("--TRAIN_CSV=train.csv", "--TEST_CSV=test.csv", "--RUNS_DIR=runs",
             "--IMAGES_DIR=images", "--LAYERS=[4,3,10]", "--EPOCHS=1")
PNG = b"\x89PNG\r\n\x1a\n"  # the first bytes of every PNG file
SILENT_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning,
                   ResourceWarning)  # the ones Python does not print by default


def table(n_rows=30):
    """Rows of a tiny valid CSV as lists of strings: label i % 10, then 4 pixels."""
    return [[str(i % 10)] + [str((i * 37 + j * 11) % 256) for j in range(4)]
            for i in range(n_rows)]


def csv_text(rows, header=HEADER):
    """The text of a CSV with this header and these rows (lists of strings)."""
    return header + "\n" + "".join(",".join(row) + "\n" for row in rows)


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


def run_cli(cwd, *args, timeout=120):
    """Run `python main.py args` in cwd as a real subprocess; return its CompletedProcess."""
    return subprocess.run([sys.executable, str(MAIN), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, check=False)


def assert_user_error(result, prefix=None, contains=(), any_of=()):
    """Exit status 2, one line `error: <prefix>...` on stderr, no traceback."""
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr, result
    assert result.stderr.endswith("\n"), result
    assert result.stderr.count("\n") == 1, f"stderr is not one line: {result.stderr!r}"
    message = result.stderr.removeprefix("error: ").rstrip("\n")
    assert result.stderr.startswith("error: "), result
    if prefix is not None:
        assert message.startswith(prefix), f"{message!r} does not start with {prefix!r}"
    for text in contains:
        assert text in message, f"{text!r} not in {message!r}"
    if any_of:
        assert any(text in message for text in any_of), f"none of {any_of} in {message!r}"
    return message


def head_lines(src, dst, n_rows, drop_label=False):
    """Copy the header and first n_rows rows of CSV src to dst (optionally without labels)."""
    with open(src, encoding="utf-8") as f_in, open(dst, "w", encoding="utf-8") as f_out:
        f_out.writelines(line.split(",", 1)[1] if drop_label else line
                         for line in itertools.islice(f_in, n_rows + 1))
    return Path(dst)


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    """Small slices of the real data: train (1500 rows), test (200) and unlabeled test."""
    folder = tmp_path_factory.mktemp("mnist-inputs")
    return {
        "train": head_lines(ROOT / "train.csv", folder / "train-1500.csv", 1500),
        "test": head_lines(ROOT / "test.csv", folder / "test-200.csv", 200),
        "unlabeled": head_lines(ROOT / "test.csv", folder / "unlabeled-200.csv", 200,
                                drop_label=True),
    }


def mnist_args(mnist, tmp_path, *extra, test="test"):
    """Arguments for a small real run whose outputs all go under tmp_path."""
    return (f"--TRAIN_CSV={mnist['train']}", f"--TEST_CSV={mnist[test]}",
            f"--RUNS_DIR={tmp_path / 'runs'}", f"--IMAGES_DIR={tmp_path / 'images'}",
            "--LAYERS=[784,16,10]", *extra)


# ----------------------------------------------------------------------------
# bad input: one line, exit 2, nothing written

# (id, extra files, extra arguments, the message's exact start, texts it contains,
#  texts of which it contains at least one)
BAD_INPUTS = [
    # the files themselves
    ("csv-missing", {}, ["--TRAIN_CSV=missing.csv"], "missing.csv: ", ["no such file"], []),
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
    # too few rows for the validation split
    ("one-row-half-held-out", {"one.csv": csv_text(table(1))},
     ["--TRAIN_CSV=one.csv", "--VAL_FRACTION=0.5"], "one.csv: ",
     ["too few", "VAL_FRACTION = 0.5"], []),
    ("no-row-held-out", {}, ["--VAL_FRACTION=0.01"], "train.csv: ",
     ["too few", "VAL_FRACTION = 0.01"], []),
    ("no-row-left-to-train", {"two.csv": csv_text(table(2))},
     ["--TRAIN_CSV=two.csv", "--VAL_FRACTION=0.9"], "two.csv: ",
     ["too few", "VAL_FRACTION = 0.9"], []),
    # the command line
    ("override-does-not-parse", {}, ["--LAYERS=[784,"], "--LAYERS=[784,: ",
     ["not a Python literal"], []),
    ("override-unknown-name", {}, ["--FOO=1"], None, ["FOO", "not a setting"], []),
    ("override-wrong-type-text", {}, ["--EPOCHS=abc"], "--EPOCHS=abc: ", ["int"], []),
    ("override-wrong-type-list", {}, ["--EPOCHS=[1]"], "--EPOCHS=[1]: ", ["int", "list"], []),
    ("override-without-equals", {}, ["--EPOCHS"], "--EPOCHS: ", ["--NAME=value"], []),
    ("argument-without-dashes", {}, ["EPOCHS=3"], "EPOCHS=3: ", ["--NAME=value"], []),
]
CASES = {case[0]: case for case in BAD_INPUTS}


def test_the_tiny_project_itself_is_valid(tmp_path, monkeypatch):
    """The bad-input cases below change one thing of this run, which succeeds."""
    tiny_project(tmp_path)
    result = run_in_process(tmp_path, BASE_ARGS, monkeypatch)
    assert result.returncode == 0, result
    assert "Traceback" not in result.stderr
    assert (tmp_path / "runs" / "4-3-10.pkl").is_file()


@pytest.mark.parametrize(("files", "args", "prefix", "contains", "any_of"),
                         [case[1:] for case in BAD_INPUTS], ids=list(CASES))
def test_bad_input_is_one_line_and_exit_2(tmp_path, monkeypatch, files, args, prefix,
                                          contains, any_of):
    tiny_project(tmp_path, files)
    result = run_in_process(tmp_path, [*BASE_ARGS, *args], monkeypatch)
    assert_user_error(result, prefix, contains, any_of)
    assert not (tmp_path / "runs").exists(), "a refused run wrote weights"
    assert not (tmp_path / "images").exists(), "a refused run drew pictures"


@pytest.mark.parametrize("case_id", ["csv-missing", "pixel-not-a-number", "pixel-inf",
                                     "every-row-one-field-too-many",
                                     "override-unknown-name", "override-without-equals"])
def test_bad_input_in_a_real_process(tmp_path, case_id):
    """The same cases as a real `python main.py`: one line, status 2, no traceback."""
    _, files, args, prefix, contains, any_of = CASES[case_id]
    tiny_project(tmp_path, files)
    assert_user_error(run_cli(tmp_path, *BASE_ARGS, *args), prefix, contains, any_of)


def test_csv_with_a_utf8_byte_order_mark_keeps_its_label_column(tmp_path):
    """Spreadsheets save CSVs with a BOM; the label column must still be the label."""
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + csv_text(table(5)).encode())
    X, y = data.load_csv(str(path), 9)
    assert X.shape == (5, 4)
    assert y is not None
    assert y.tolist() == [0, 1, 2, 3, 4]


# ----------------------------------------------------------------------------
# the ends of a run


def test_unlabeled_test_file_writes_kaggle_predictions(mnist, tmp_path):
    result = run_cli(tmp_path, *mnist_args(mnist, tmp_path, "--EPOCHS=1", test="unlabeled"))
    assert result.returncode == 0, result.stderr
    assert not any(line.startswith("test accuracy") for line in result.stdout.splitlines())
    path = tmp_path / "runs" / "784-16-10-predictions.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "ImageId,Label"
    rows = [line.split(",") for line in lines[1:]]
    assert len(rows) == 200
    assert [int(image_id) for image_id, _ in rows] == list(range(1, 201))
    labels = np.array([int(label) for _, label in rows])
    assert labels.min() >= 0
    assert labels.max() <= 9
    # the labels are the saved network's own predictions for those rows
    saved = runs.load_weights(str(tmp_path / "runs" / "784-16-10.pkl"))
    X, y = data.load_csv(str(mnist["unlabeled"]))
    assert y is None
    np.testing.assert_array_equal(labels, utils.predict_logits(saved["params"], X).argmax(1))


def test_absurd_learning_rate_stops_with_advice_and_finite_weights(mnist, tmp_path):
    # 1e30 with plain SGD overflows float32 within the first epoch (checked).
    result = run_cli(tmp_path, *mnist_args(mnist, tmp_path, "--EPOCHS=2",
                                           "--LEARNING_RATE=1e30", "--OPTIMISER=sgd"))
    assert result.returncode == 3, result
    assert "Traceback" not in result.stderr
    advice = [line for line in result.stdout.splitlines() if "LEARNING_RATE" in line
              and "lower" in line and not line.startswith("override")]
    assert len(advice) == 1, result.stdout
    assert advice[0].startswith("epoch 1"), advice
    saved = runs.load_weights(str(tmp_path / "runs" / "784-16-10.pkl"))
    assert saved["status"] == "diverged"
    for W, b in saved["params"]:
        assert np.isfinite(W).all()
        assert np.isfinite(b).all()


def test_ctrl_c_stops_saves_weights_and_curves(mnist, tmp_path):
    out_path, err_path = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    args = mnist_args(mnist, tmp_path, "--EPOCHS=2000", "--BATCH_SIZE=32")
    with open(out_path, "w", encoding="utf-8") as out, \
            open(err_path, "w", encoding="utf-8") as err:
        proc = subprocess.Popen([sys.executable, "-u", str(MAIN), *args], cwd=tmp_path,
                                stdout=out, stderr=err)
        try:
            deadline = time.monotonic() + 30
            while not any(line.startswith("epoch ") for line in
                          out_path.read_text(encoding="utf-8").splitlines()):
                assert proc.poll() is None, err_path.read_text(encoding="utf-8")
                assert time.monotonic() < deadline, "no epoch line within 30 s"
                time.sleep(0.05)
            proc.send_signal(signal.SIGINT)
            returncode = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    stdout = out_path.read_text(encoding="utf-8")
    assert returncode == 130, (stdout[-1000:], err_path.read_text(encoding="utf-8"))
    assert "Traceback" not in err_path.read_text(encoding="utf-8")
    assert "epoch 2000/2000" not in stdout, "the run was not stopped"
    saved = runs.load_weights(str(tmp_path / "runs" / "784-16-10.pkl"))
    assert saved["status"] == "stopped"
    assert all(np.isfinite(W).all() and np.isfinite(b).all() for W, b in saved["params"])
    assert (tmp_path / "images" / "curves-784-16-10.png").read_bytes()[:8] == PNG


# ----------------------------------------------------------------------------
# saving atomically


class Boom:
    """An object whose pickling fails: a crash in the middle of save_weights."""

    def __reduce__(self):
        raise RuntimeError("boom while pickling")


def good_result(seed=0):
    """A small valid weights dict, as main.run saves it."""
    layers = [4, 3, 10]
    return {"layers": layers, "params": utils.init_params(layers, np.random.default_rng(seed)),
            "config": {"ACTIVATION": "relu"}}


def test_crash_while_pickling_leaves_previous_weights_intact(tmp_path):
    path = tmp_path / "w.pkl"
    runs.save_weights(str(path), good_result())
    before = path.read_bytes()
    # 2 MB of array is written to the temporary file before Boom raises
    crashing = {**good_result(1), "big": np.ones(500_000, np.float32), "boom": Boom()}
    with pytest.raises(RuntimeError, match="boom while pickling"):
        runs.save_weights(str(path), crashing)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["w.pkl"], "a temporary file was left behind"
    assert runs.load_weights(str(path))["layers"] == [4, 3, 10]


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()],
                         ids=["disk-full", "ctrl-c"])
def test_save_atomic_crash_midway_leaves_previous_file(tmp_path, error):
    path = tmp_path / "out.csv"
    path.write_bytes(b"the previous content\n")

    def write_half(f):
        f.write(b"ImageId,Label\n" + b"1,2\n" * 1000)
        raise error

    with pytest.raises(type(error)):
        runs.save_atomic(str(path), write_half)
    assert path.read_bytes() == b"the previous content\n"
    assert os.listdir(tmp_path) == ["out.csv"], "a temporary file was left behind"


def test_save_atomic_crash_midway_creates_no_file(tmp_path):
    path = tmp_path / "new.csv"

    def write_half(f):
        f.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        runs.save_atomic(str(path), write_half)
    assert os.listdir(tmp_path) == []


def test_save_atomic_replaces_the_file_whole(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    runs.save_atomic(str(path), lambda f: f.write(b"new content"))
    assert path.read_bytes() == b"new content"
    assert os.listdir(tmp_path) == ["out.bin"]


# ----------------------------------------------------------------------------
# weights files from elsewhere


class Evil:
    """Unpickling this runs a shell command, as a malicious weights file would."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def test_the_evil_pickle_really_runs_a_command(tmp_path):
    """The payload below works under plain pickle, so refusing it means something."""
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(Evil(marker)))  # the point of the test
    assert marker.exists()


@pytest.mark.parametrize("shape", ["bare", "inside-params"])
def test_load_weights_refuses_a_pickle_that_runs_a_command(tmp_path, shape):
    marker = tmp_path / "pwned"
    obj = Evil(marker) if shape == "bare" else {**good_result(), "params": [Evil(marker)]}
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
    with pytest.raises(data.InputError) as info:
        runs.load_weights(str(path))
    assert str(info.value).startswith(str(path))
    assert not marker.exists(), "loading the weights ran the command"


def test_predict_with_a_malicious_weights_file_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({**good_result(), "params": Evil(marker)}))
    image = np.ones((28, 28))
    image[5:23, 12:16] = 0
    import matplotlib.image  # only this test needs it

    matplotlib.image.imsave(tmp_path / "x.png", image, cmap="gray")
    result = run_cli(tmp_path, "--PREDICT=x.png", "--WEIGHTS=evil.pkl")
    assert_user_error(result, "evil.pkl: ")
    assert not marker.exists(), "predicting ran the command in the weights file"


def bad_params(kind):
    """A weights dict whose params do not fit its layers [4, 3, 10], in one way."""
    result = good_result()
    (W1, b1), (W2, b2) = result["params"]
    return {**result, "params": {
        "wrong-W-shape": [(W1, b1), (W2[:, :9], b2)],
        "wrong-b-shape": [(W1, b1[:2]), (W2, b2)],
        "transposed": [(W1.T, b1), (W2, b2)],
        "missing-layer": [(W1, b1)],
        "extra-layer": [(W1, b1), (W2, b2), (W2, b2)],
        "integer-weights": [(W1.astype(np.int64), b1), (W2, b2)],
        "not-a-pair": [(W1,), (W2, b2)],
    }[kind]}


@pytest.mark.parametrize("kind", ["wrong-W-shape", "wrong-b-shape", "transposed",
                                  "missing-layer", "extra-layer", "integer-weights",
                                  "not-a-pair"])
def test_load_weights_refuses_params_that_do_not_match_layers(tmp_path, kind):
    path = tmp_path / "w.pkl"
    runs.save_weights(str(path), bad_params(kind))
    with pytest.raises(data.InputError, match="do not match"):
        runs.load_weights(str(path))


@pytest.fixture(scope="module")
def good_weights_bytes():
    """The bytes of a valid weights file (also checked to load)."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "w.pkl")
        runs.save_weights(path, good_result())
        assert runs.load_weights(path)["layers"] == [4, 3, 10]
        with open(path, "rb") as f:
            return f.read()


@hypothesis.settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fraction=st.floats(0, 1, exclude_max=True))
def test_load_weights_refuses_a_truncated_file(tmp_path, good_weights_bytes, fraction):
    path = tmp_path / "truncated.pkl"
    path.write_bytes(good_weights_bytes[:int(fraction * len(good_weights_bytes))])
    with pytest.raises(data.InputError) as info:
        runs.load_weights(str(path))
    assert str(info.value).startswith(str(path))


# ----------------------------------------------------------------------------
# property-based: malformed and well-formed CSVs

BAD_TOKENS = ["abc", "x", "", " ", "nan", "NaN", "inf", "-inf", "-1", "256", "1000",
              "2.5", "0.5", "1e3", "0x10", "NA", "#", "1_0", "\u0661", '"', '1"', "--1",
              "1-", "1.2.3", "1 2", "'"]


@st.composite
def csv_shapes(draw):
    """(labelled, n_pixels, rows as lists of strings) of a small valid CSV, >= 2 columns."""
    labelled = draw(st.booleans())
    n_pixels = draw(st.integers(1 if labelled else 2, 4))
    n_rows = draw(st.integers(1, 5))
    rows = draw(st.lists(st.lists(st.integers(0, 255), min_size=n_pixels,
                                  max_size=n_pixels), min_size=n_rows, max_size=n_rows))
    labels = draw(st.lists(st.integers(0, 9), min_size=n_rows, max_size=n_rows))
    rows = [([label] if labelled else []) + row for label, row in zip(labels, rows)]
    return labelled, n_pixels, rows


def header_of(labelled, n_pixels):
    return ",".join((["label"] if labelled else []) + [f"pixel{j}" for j in range(n_pixels)])


@hypothesis.settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(shape=csv_shapes(), draws=st.data())
def test_malformed_csv_always_raises_input_error_naming_the_file(shape, draws):
    labelled, n_pixels, rows = shape
    rows = [[str(v) for v in row] for row in rows]
    width = len(rows[0])
    r = draws.draw(st.integers(0, len(rows) - 1), label="row")
    how = draws.draw(st.sampled_from(["token", "fewer-fields", "more-fields"]), label="how")
    if how == "token":
        rows[r][draws.draw(st.integers(0, width - 1), label="column")] = draws.draw(
            st.sampled_from(BAD_TOKENS), label="token")
    elif how == "fewer-fields":  # at least one field stays: an empty line is skipped
        rows[r] = rows[r][:draws.draw(st.integers(1, width - 1), label="kept")]
    else:
        rows[r] = rows[r] + draws.draw(st.lists(st.sampled_from(["0", "7", "255"]),
                                               min_size=1, max_size=3), label="extra")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "data.csv")
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(csv_text(rows, header_of(labelled, n_pixels)))
        with pytest.raises(data.InputError) as info, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # warnings are the CLI tests' business
            data.load_csv(path, 9)
    assert str(info.value).startswith(f"{path}: "), str(info.value)
    assert "\n" not in str(info.value)


@hypothesis.settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(shape=csv_shapes())
def test_well_formed_csv_loads_exact_values(shape):
    labelled, n_pixels, rows = shape
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "data.csv")
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(csv_text([[str(v) for v in row] for row in rows],
                             header_of(labelled, n_pixels)))
        X, y = data.load_csv(path, 9)
    expected = np.array(rows)
    assert X.dtype == np.uint8
    assert X.shape == (len(rows), n_pixels)
    np.testing.assert_array_equal(X, expected[:, 1:] if labelled else expected)
    if labelled:
        assert y.dtype == np.int64
        np.testing.assert_array_equal(y, expected[:, 0])
    else:
        assert y is None
