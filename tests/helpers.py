"""Plain helpers shared by several test files: CSVs, running main.py, PNGs, a digit, an epoch,
picture files that are not one picture.

conftest.py puts this folder and the project root on sys.path, so a test file
says `from helpers import ...`.
"""

import fnmatch
import hashlib
import itertools
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np

import augment
import utils

ROOT = Path(__file__).resolve().parent.parent
MAIN = ROOT / "main.py"
PNG = b"\x89PNG\r\n\x1a\n"  # the first bytes of every PNG file
MAX_PICTURE_BYTES = 200_000
HEADER = "label,pixel0,pixel1,pixel2,pixel3"  # 4 pixel columns, for --LAYERS=[4,3,10]


# ----------------------------------------------------------------------------
# CSVs


def head_lines(src, dst, n_rows, drop_label=False):
    """Copy the header and first n_rows rows of CSV src to dst (optionally without labels)."""
    with open(src, encoding="utf-8") as f_in, open(dst, "w", encoding="utf-8") as f_out:
        f_out.writelines(line.split(",", 1)[1] if drop_label else line
                         for line in itertools.islice(f_in, n_rows + 1))
    return Path(dst)


def table(n_rows=30):
    """Rows of a tiny valid CSV as lists of strings: label i % 10, then 4 pixels."""
    return [[str(i % 10)] + [str((i * 37 + j * 11) % 256) for j in range(4)]
            for i in range(n_rows)]


def csv_text(rows, header=HEADER):
    """The text of a CSV with this header and these rows (lists of strings)."""
    return header + "\n" + "".join(",".join(row) + "\n" for row in rows)


# ----------------------------------------------------------------------------
# running main.py


def run_cli(cwd, *args, timeout=120):
    """Run `python main.py args` in cwd as a real subprocess; return its CompletedProcess."""
    return subprocess.run([sys.executable, str(MAIN), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, check=False)


def assert_quiet_when_the_reader_goes_away(args, cwd, first="command"):
    """Run a program (args after the Python executable), read its first line of output,
    then close the pipe, as `| head -1` does: it must end with 141 and no traceback."""
    with subprocess.Popen([sys.executable, *map(str, args)], cwd=cwd, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as child:
        assert child.stdout.readline().startswith(first)
        child.stdout.close()
        stderr = child.stderr.read()
        child.wait(timeout=120)
    assert child.returncode == 141, stderr
    assert "Traceback" not in stderr, stderr


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


def assert_small_png(path):
    """The file is a PNG of fewer than MAX_PICTURE_BYTES bytes."""
    content = Path(path).read_bytes()
    assert content[:8] == PNG, f"{path} is not a PNG"
    assert len(content) < MAX_PICTURE_BYTES, f"{path} is {len(content)} bytes"


# ----------------------------------------------------------------------------
# a trained network, a drawn digit


def one_epoch(seed, X, y):
    """Train [784, 32, 10] for one epoch from seed, with shifts and dropout; return params."""
    rng = np.random.default_rng(seed)
    params = utils.init_params([784, 32, 10], rng)
    state = utils.init_state(params, "momentum")
    result = utils.train_epoch(params, state, X, y, 100, rng, lambda step: 0.05,
                               lambda Xb, r: augment.random_shift(Xb, 1, r),
                               dropout=[0.2], optimiser="momentum")
    assert result["status"] == "ok"
    return params


def trained_with_shifts(X, y, layers, epochs, seed=0):
    """The params of `layers` trained on X, y for `epochs` (batches of 50, lr 0.05, momentum),
    with 1-pixel shifts as main.py trains by default."""
    rng = np.random.default_rng(seed)
    params = utils.init_params(layers, rng)
    state = utils.init_state(params, "momentum")
    for _ in range(epochs):
        utils.train_epoch(params, state, X, y, 50, rng, lambda step: 0.05,
                          lambda Xb, r: augment.random_shift(Xb, 1, r), optimiser="momentum")
    return params


def draw(shape, h=90, w=70):
    """A dark-on-light (h, w) grey picture of a digit-like shape, off centre; 1 is white."""
    yy, xx = np.mgrid[0:h, 0:w]
    if shape == "ring":  # a thick 0, up and to the left
        r = np.hypot(yy - 30, xx - 22)
        ink = (r >= 9) & (r <= 15)
    elif shape == "seven":  # a top bar and a slanted stroke, down and to the right
        bar = (yy >= 30) & (yy < 36) & (xx >= 34) & (xx < 66)
        stroke = (yy >= 30) & (yy < 86) & (np.abs(xx - (66 - (yy - 30) * 24 / 56)) < 3)
        ink = bar | stroke
    elif shape == "bar-and-dot":  # a long bar with a small far mark: centring shifts a lot
        ink = (((yy >= 10) & (yy < 80) & (xx >= 60) & (xx < 66))
               | ((yy >= 40) & (yy < 44) & (xx >= 5) & (xx < 9)))
    else:
        raise ValueError(shape)
    return np.where(ink, 0.0, 1.0)


def only_run(runs_dir):
    """The folder of the one run under runs_dir (comparisons aside)."""
    folders = [p for p in Path(runs_dir).iterdir() if p.is_dir() and not p.name.startswith("compare,")]
    assert len(folders) == 1, folders
    return folders[0]


# ----------------------------------------------------------------------------
# picture files that are not one still picture


def write_bomb(path):
    """A PNG whose header claims 40000 x 40000 pixels (1.6 billion): Pillow's bomb check."""
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", 40000, 40000, 8, 0, 0, 0, 0)
    Path(path).write_bytes(PNG + chunk(b"IHDR", header)
                           + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b""))


def write_animation(path):
    """A GIF of two frames, black then white."""
    from PIL import Image

    frames = [Image.new("L", (40, 40), v).convert("P") for v in (0, 255)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)


# ----------------------------------------------------------------------------
# a training run that calls watchers as main.py's loop does (the watcher protocol)


class FakeStop:
    """A run's stop flag as the watchers see it: request(reason) sets it."""

    def __init__(self):
        self.set, self.reason = False, None

    def request(self, reason):
        self.set, self.reason = True, reason


def watched_run(watchers, X, y, X_val, y_val, layers=(784, 32, 10), epochs=2, batch_size=100,
                lr=0.05, seed=0, stop=None, pace=0.0, label=""):
    """Train a small network with utils, calling each watcher's begin, step, epoch and end
    where main.py's loop calls them; pace seconds of sleep after each step slow it down for
    a browser to watch. Returns the result dict end() was given."""
    import math
    import time

    import diagnostics

    rng = np.random.default_rng(seed)
    params = utils.init_params(list(layers), rng)
    state = utils.init_state(params, "momentum")
    stop = stop or FakeStop()
    probe = diagnostics.probe(X_val, y_val, X, y, rows=200)
    history = {k: [] for k in ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr",
                               "seconds", "threads")}
    history["layers"] = [diagnostics.layer_stats(params, *probe, "relu", lr=lr,
                                                 optimiser="momentum")]
    history["diagnosis"] = []
    total = math.ceil(len(X) / batch_size)
    config = {"LAYERS": list(layers), "ACTIVATION": "relu", "BATCH_NORM": False,
              "EPOCHS": epochs, "BATCH_SIZE": batch_size, "LEARNING_RATE": lr}
    run = {"config": config, "label": label, "folder": "", "params": params, "stats": None,
           "history": history, "stop": stop, "n_train": len(X), "steps_per_epoch": total,
           "X_val": X_val, "y_val": y_val, "epochs": epochs}
    def call(method, *args):  # a watcher may define any of the methods
        for w in watchers:
            if hasattr(w, method):
                getattr(w, method)(*args)

    call("begin", run)
    for epoch in range(1, epochs + 1):
        start, seen, loss_sum, right = time.perf_counter(), 0, 0.0, 0
        before = diagnostics.weights_of(params)
        for done, idx in enumerate(utils.batches(len(X), batch_size, rng), start=1):
            loss, correct = utils.train_step(params, state, utils.normalise(X[idx]), y[idx], lr,
                                             rng)
            seen, loss_sum, right = seen + len(idx), loss_sum + loss * len(idx), right + correct
            call("step", done, total, loss)
            if stop.set:
                break
            time.sleep(pace)
        if stop.set:
            break
        val_loss, val_acc = utils.evaluate(params, X_val, y_val)
        for key, value in zip(("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr",
                               "seconds", "threads"),
                              (epoch, loss_sum / seen, right / seen, val_loss, val_acc, lr,
                               time.perf_counter() - start, 1)):
            history[key].append(value)
        history["layers"].append(diagnostics.layer_stats(params, *probe, "relu", None, before,
                                                         lr, "momentum", epoch=epoch))
        history["diagnosis"] = diagnostics.diagnose(history["layers"])
        call("epoch", history)
    result = {"params": utils.copy_params(params), "stats": None, "history": history,
              "test_accuracy": None, "status": "stopped" if stop.set else "finished",
              "folder": ""}
    call("end", result)
    return result


# the project's files, with or without git


def ignored_patterns(root):
    """The patterns of root/.gitignore (comments and blank lines left out)."""
    path = Path(root) / ".gitignore"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def project_files(root):
    """The relative paths (str, with /) of root's own files: every file but .git and what
    root/.gitignore ignores (a pattern ending in / names a folder anywhere; others match a
    file's name). Needs no git, so it works in a copy made by "Download ZIP" or git archive
    as in a checkout."""
    patterns = ignored_patterns(root)
    folders = [p.rstrip("/") for p in patterns if p.endswith("/")]
    names = [p for p in patterns if not p.endswith("/")]
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if d != ".git"
                               and not any(fnmatch.fnmatch(d, f) for f in folders))
        for name in sorted(files):
            if name != ".git" and not any(fnmatch.fnmatch(name, n) for n in names):
                found.append(Path(folder, name).relative_to(root).as_posix())
    return found


def contents(root):
    """{relative path: SHA-256 of its bytes} of root's own files (project_files)."""
    return {name: hashlib.sha256((Path(root) / name).read_bytes()).hexdigest()
            for name in project_files(root)}
