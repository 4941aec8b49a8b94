"""What a run leaves behind: its folder and name, atomic writes, the weights file, the run log.

Each run writes into a folder of its own, runs/<name>/, named after the
settings that differ from those the project ships with (settings.SHIPPED:
edited constants count), so runs with other settings
never write over each other. Every file is written whole or not at all
(save_atomic); a weights file is read back by an unpickler that builds
arrays and plain data only, so a file from someone else cannot run code;
every run adds a row to runs/log.csv.
"""

import atexit
import csv
import datetime
import errno
import hashlib
import io
import itertools
import json
import math
import os
import pickle
import re
import shutil
import sys
import tempfile
import time

import numpy as np

try:
    import fcntl  # POSIX: serialises two runs adding to the log at once
except ImportError:  # Windows
    fcntl = None

import data
import errors
import machine
import settings
import utils
from data import InputError
from images import class_name
from machine import MOMENTS, size_text
from utils import count_params

MAX_NAME = 90  # characters of a run's name before it is shortened with a hash
CHECKPOINT_SHARE = 0.05  # the most of an epoch's time that writing its checkpoint may take
OTHER_BYTES = 2_000_000  # a run's files but its weights and checkpoint, at most: six pictures
# (each under 200 KB), settings.json, the log's row, the history in weights.pkl, predictions.csv
LOG_COLUMNS = ("time", "name", "status", "epochs", "kept_epoch", "best_val_acc", "test_acc",
               "train_seconds", "settings")


def arch_name(layers):
    """A file-name-safe name of an architecture, e.g. '784-256-10'."""
    return "-".join(str(n) for n in layers)


# ----------------------------------------------------------------------------
# a run's name and folder


def differences(c, defaults):
    """The settings of c that shape its results and differ from the defaults, as
    ["OPTIMISER=adam", ...] in the order of main.py (LAYERS excluded)."""
    return [settings.short(k, v) for k, v in c.items()
            if k not in settings.NOT_RESULTS and k != "LAYERS" and v != defaults.get(k)]


def safe_name(text):
    """text with every character a file name should not hold replaced by '_'."""
    return re.sub(r"[^A-Za-z0-9._=+,-]", "_", text)


def run_name(c, defaults):
    """The name of the run of settings c: its NAME, or its architecture and differences.

    For example '784-256-128-64-10' for the defaults and
    '784-256-128-64-10,LEARNING_RATE=0.1,OPTIMISER=adam' otherwise; names
    longer than MAX_NAME keep their start and end with 8 hexadecimal digits of
    the SHA-256 of all the differences, so they stay stable and distinct.
    """
    if c["NAME"]:
        return c["NAME"]
    return shortened([arch_name(c["LAYERS"]), *differences(c, defaults)])


def shortened(parts):
    """The parts joined by commas as a file-name-safe name of at most MAX_NAME characters.

    A longer name keeps as many whole parts as fit, then '~' and 8 hex
    digits of the SHA-256 of the whole name, so it stays stable and distinct.
    """
    name = safe_name(",".join(parts))
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    kept = safe_name(parts[0])[:MAX_NAME - 9]
    for part in parts[1:]:
        if len(kept) + 1 + len(safe_name(part)) > MAX_NAME - 9:
            break
        kept += "," + safe_name(part)
    return f"{kept}~{digest}"


def recorded(c):
    """The settings of c that shape its results, as JSON-ready data.

    Without elastic distortions (ELASTIC_ALPHA 0), ELASTIC_ALPHA and
    ELASTIC_SIGMA are left out, as in the records of runs made before those
    settings existed: those runs stay the runs of their settings.
    """
    out = {k: v for k, v in c.items() if k not in settings.NOT_RESULTS}
    if not out.get("ELASTIC_ALPHA"):
        out.pop("ELASTIC_ALPHA", None)
        out.pop("ELASTIC_SIGMA", None)
    return out


def changed(old, new):
    """The names of the settings whose values differ between two recorded sets, with both values."""
    return [f"{k} {old.get(k)!r} there, {new.get(k)!r} here"
            for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]


def run_folder(c, defaults):
    """The folder of the run of settings c under RUNS_DIR, and whether it holds one already.

    A folder holding a run of other settings (main.py's defaults were
    edited, say), or weights or a checkpoint of settings that cannot be
    told (folder_settings), is never used: an automatic name then gains '~'
    and a hash of all the settings; a chosen NAME is refused. Nothing is
    written here. Returns (folder, earlier): earlier is True when the folder
    holds weights or a checkpoint of these very settings (a folder that
    holds only its settings.json, left by a run that failed before its
    first epoch, holds nothing to replace). Raises InputError.
    """
    name = run_name(c, defaults)
    if c["NAME"] and (name.startswith((".", "-")) or name == "log.csv"
                      or safe_name(name) != name):
        raise InputError(f"NAME = {c['NAME']!r}: a run's name may hold only ASCII letters, "
                         "digits and . _ = + , -, may not start with . or -, and may not be "
                         "log.csv (it names a folder beside the run log)")
    mine = recorded(c)
    folder = os.path.join(c["RUNS_DIR"], name)
    theirs = folder_settings(folder)
    if theirs is not None and theirs != mine:
        what, why = ("settings that cannot be told", UNKNOWN_WHY) if theirs == UNKNOWN \
            else ("other settings", "; ".join(changed(theirs, mine)))
        if c["NAME"]:
            raise InputError(f"{folder}: holds a run with {what} ({why}); choose another NAME")
        digest = hashlib.sha256(json.dumps(mine, sort_keys=True).encode()).hexdigest()[:8]
        other = folder
        folder = os.path.join(c["RUNS_DIR"], f"{name[:MAX_NAME - 9]}~{digest}")
        print(f"{other} holds a run of {what} ({why}); the run of these settings "
              f"is {folder}")
        theirs = folder_settings(folder)
    return folder, theirs == mine and holds_run(folder)


def find_weights(c, defaults):
    """The weights file --PREDICT reads: WEIGHTS (found as settings.found finds a path), or
    the weights.pkl of the run of settings c. When that is not there and RUNS_DIR is a
    relative path, the same run's weights in the project's folder (started from another
    folder), then RUNS_DIR/<layers>.pkl, where the project's first version saved them, here
    or in the project's folder. Prints a line when the file read is not the one named.
    Returns the path (which may not exist: the caller says so), or the list of paths of a
    committee's WEIGHTS."""
    if c["WEIGHTS"]:
        named = c["WEIGHTS"] if isinstance(c["WEIGHTS"], list) else [c["WEIGHTS"]]
        paths = [settings.found(path) for path in named]  # a committee's several files
        for path, given in zip(paths, named):
            if path != given:
                print(f"WEIGHTS: {given} is not in the current folder; reading the "
                      f"project's, {path}")
        return paths if isinstance(c["WEIGHTS"], list) else paths[0]
    path = os.path.join(run_folder(c, defaults)[0], "weights.pkl")
    if os.path.exists(path) or has_checkpoint(os.path.dirname(path)):
        return path
    project = os.path.join(settings.PROJECT, c["RUNS_DIR"])
    elsewhere = not os.path.isabs(c["RUNS_DIR"]) and os.path.abspath(c["RUNS_DIR"]) != project
    places = ([(os.path.join(run_folder(dict(c, RUNS_DIR=project), defaults)[0],
                             "weights.pkl"), "the project's folder")] if elsewhere else [])
    places += [(os.path.join(runs_dir, f"{arch_name(c['LAYERS'])}.pkl"),
                "the project's first version saved weights there")
               for runs_dir in (c["RUNS_DIR"], project)[:1 + elsewhere]]
    for other, why in places:
        if os.path.exists(other):
            print(f"{path} is not there; reading {other} ({why})")
            return other
    return path


def compare_folder(c, defaults):
    """The folder of a comparison: RUNS_DIR/compare,<each entry>,<the base settings>~<hash>.

    Each entry is named by what it sets itself (784-100-10, or BATCH_NORM=True, or
    ACTIVATION=relu+BATCH_NORM=True; "base" for {}), so every entry shows before the base
    settings that differ from the defaults (main.py's LAYERS and the rest) take what room
    is left. The hash (8 hex digits of the SHA-256 of every setting that shapes the
    results, COMPARE included) keeps two comparisons of other settings apart even when
    their readable parts agree.
    """
    base = dict(c, COMPARE=[])
    entries = [arch_name(e) if isinstance(e, list) else
               "+".join(settings.short(k, v) for k, v in e.items()) or "base"
               for e in c["COMPARE"]]
    parts = ["compare", *entries]
    if c["LAYERS"] != defaults["LAYERS"]:
        parts.append(settings.short("LAYERS", c["LAYERS"]))
    parts += differences(base, defaults)
    digest = hashlib.sha256(json.dumps([recorded(base), c["COMPARE"]], sort_keys=True)
                            .encode()).hexdigest()[:8]
    name = shortened(parts)
    return os.path.join(c["RUNS_DIR"], f"{name.split('~')[0][:MAX_NAME - 9]}~{digest}")


def shared_differences(c, defaults):
    """The settings every entry of c's COMPARE shares and that differ from the defaults,
    as ["784-100-10", "OPTIMISER=adam", ...]: what a comparison's title says they have in
    common (a setting one entry changes is not shared, though the others take c's)."""
    configs = [config for _, config in settings.compare_entries(c)]
    return [settings.short(k, v) for k, v in configs[0].items()
            if k not in settings.NOT_RESULTS and v != defaults.get(k)
            and all(config[k] == v for config in configs)]


def compare_table(labels, results):
    """A Markdown table of the networks of a comparison: one row per entry."""
    rows = ["| entry | parameters | training s | best val acc | test acc | status |",
            "| --- | ---: | ---: | ---: | ---: | --- |"]
    for label, r in zip(labels, results):
        test = f"{r['test_accuracy']:.2%}" if r["test_accuracy"] is not None else "-"
        best_val = max(r["history"]["val_acc"], default=math.nan)
        n_params = count_params(r["layers"], r["config"].get("BATCH_NORM", False))
        rows.append(f"| {label} | {n_params:,} | {r['train_seconds']:.1f} "
                    f"| {best_val:.2%} | {test} | {r['status']} |")
    return "\n".join(rows) + "\n"


def read_settings(folder):
    """The settings recorded in a run folder's settings.json, or None if it has none."""
    try:
        with open(os.path.join(folder, "settings.json"), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


RUN_FILES = ("weights.pkl", "checkpoint.pkl")  # what a run leaves that another run could replace
UNKNOWN = "unknown"  # folder_settings of a folder whose run's settings cannot be told
UNKNOWN_WHY = "no readable settings.json beside its weights.pkl or checkpoint.pkl"


def holds_run(folder):
    """Whether folder holds a run's weights or checkpoint (RUN_FILES)."""
    return any(os.path.exists(os.path.join(folder, name)) for name in RUN_FILES)


def folder_settings(folder):
    """The settings of the run in folder, as recorded() gives them, read without trusting names.

    settings.json first; when it is missing or unreadable (deleted by hand,
    or with the whole folder while the run trained), the settings inside
    weights.pkl (its "config") or checkpoint.pkl (its "settings"). Returns
    None for a folder holding no run (no settings.json and none of
    RUN_FILES), and UNKNOWN for one whose weights or checkpoint is there
    but says nothing readable: such a folder is treated as another run's.
    """
    theirs = read_settings(folder)
    if theirs is not None or not holds_run(folder):
        return theirs
    try:
        config = load_weights(os.path.join(folder, "weights.pkl"))["config"]
        if isinstance(config, dict):
            return recorded(config)
    except (InputError, KeyError, TypeError):
        pass
    try:
        saved = _read_pickle(os.path.join(folder, "checkpoint.pkl"), "checkpoint")
        if isinstance(saved, dict) and isinstance(saved.get("settings"), dict):
            return saved["settings"]
    except InputError:
        pass
    return UNKNOWN


_LOCKS = {}  # folder: the open lock file that marks it as in use by this process


@atexit.register
def _release_locks():
    """Close the lock files as the process ends (the locks go with the process anyway)."""
    for lock in _LOCKS.values():
        lock.close()


def start_folder(folder, c):
    """Create a run's folder, claim it, and record its settings there (settings.json).

    The claim is an exclusive lock on folder/.lock, held until this process
    ends, so that two runs of the same settings at once never write into one
    folder. Raises InputError when another process holds it, OSError when
    the folder cannot be written.
    """
    os.makedirs(folder, exist_ok=True)
    _claim(folder)
    remove_leftovers(folder)
    _write_settings(folder, c)


def remove_leftovers(folder, suffix=""):
    """Delete the temporary files (.tmp-*<suffix>) that a write killed midway left in folder
    (save_atomic's, whose own cleanup a SIGKILL or a power cut skips: a checkpoint of a
    large network is hundreds of MB). Called by the one process that holds the folder
    (start_folder's lock, or the run log's for suffix "log.csv"), so none is being written.
    """
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if name.startswith(".tmp-") and name.endswith(suffix):
            remove(os.path.join(folder, name))


def _claim(folder):
    """Lock folder/.lock for this process (once), or raise InputError if another holds it."""
    if fcntl and folder not in _LOCKS:
        lock = open(os.path.join(folder, ".lock"), "a")  # noqa: SIM115 -- held open
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            raise InputError(f"{folder}: another run of these settings is training there now; "
                             "wait for it to end, or give this one another NAME") from None
        _LOCKS[folder] = lock


def _write_settings(folder, c):
    """Write folder/settings.json: the settings of c that shape the results; return its path."""
    path = os.path.join(folder, "settings.json")
    text = json.dumps(recorded(c), indent=1, sort_keys=True) + "\n"
    save_atomic(path, lambda f: f.write(text.encode()))
    return path


def finish_folder(folder, c):
    """At a run's end: the path of its folder's settings.json, written again if it went missing.

    A folder deleted while its run trained is made again by the run's last
    writes (its weights), without the settings.json that tells later runs
    whose weights it holds: it is written again here, and the folder's
    .lock claimed again. Returns None, writing nothing, when there is no
    folder (nothing was saved in it) or its settings cannot be written.
    """
    path = os.path.join(folder, "settings.json")
    if not os.path.isdir(folder):
        return None
    if fcntl and not os.path.exists(os.path.join(folder, ".lock")):
        old = _LOCKS.pop(folder, None)
        if old is not None:
            old.close()  # the lock of the deleted folder's .lock
        try:
            _claim(folder)
        except (InputError, OSError):
            pass  # taken by another run meanwhile, or not writable: the settings still tell
    if os.path.exists(path):
        return path
    try:
        return _write_settings(folder, c)
    except OSError:
        return None


def abandon(folder):
    """Undo start_folder for a run that failed before it saved anything: remove its folder.

    Only a folder holding nothing but settings.json and .lock is removed
    (with them), so that no empty folder is left to look like an earlier
    run; a folder holding anything else is left as it is.
    """
    try:
        names = set(os.listdir(folder))
    except OSError:
        return
    if not names <= {"settings.json", ".lock"}:
        return
    lock = _LOCKS.pop(folder, None)
    if lock is not None:
        lock.close()
    for name in names:
        remove(os.path.join(folder, name))
    try:
        os.rmdir(folder)
    except OSError:
        pass


def _nearest_folder(folder):
    """The nearest existing path on the way to folder (folder itself if it exists)."""
    path = os.path.abspath(folder)
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return path


def check_writable(folder, setting="RUNS_DIR"):
    """Raise InputError unless the folder can be created and written, writing nothing lasting.

    The nearest existing folder on the way is tested with a temporary file,
    so a read-only mount, a path through a file or a missing permission is
    found before any data is loaded.
    """
    path = _nearest_folder(folder)
    if not os.path.isdir(path):
        raise InputError(f"{folder}: cannot hold a folder, {path} is a file (set {setting})")
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise InputError(f"{folder}: cannot be written ({e.strerror}); set {setting} to a "
                         "folder you can write") from None


def disk_needed(c):
    """Rough bytes a run of settings c writes into its folder: (kept, peak).

    kept -- what stays: weights.pkl (4 bytes per float32 parameter) and
    OTHER_BYTES; peak -- with checkpoint.pkl while the run trains (the
    weights, the best epoch's copy and the optimiser's velocity or
    moments), twice over while a new one is written beside the old one
    (save_atomic).
    Measured: weights.pkl of [784,16,10] (12,730 parameters) after 3 epochs
    is 53,585 bytes, and the six pictures 381,660 bytes.
    """
    params = count_params(c["LAYERS"], c["BATCH_NORM"])
    kept = 4 * params + OTHER_BYTES
    checkpoint = 4 * params * (2 + MOMENTS.get(c["OPTIMISER"], 2))
    return kept, kept + 2 * checkpoint


def check_space(runs_dir, configs):
    """Refuse, before any data is loaded, runs whose files clearly do not fit on RUNS_DIR's disk.

    configs -- the settings of each run to train (several for COMPARE): all
    their kept files must fit (disk_needed); the largest checkpoint is
    needed one run at a time. Raises InputError when the kept files do not
    fit in the free space (shutil.disk_usage); prints a warning when only
    the checkpoints may not (a checkpoint that cannot be written is a
    warning while training, which goes on without).
    """
    free = shutil.disk_usage(_nearest_folder(runs_dir)).free
    sizes = [disk_needed(c) for c in configs]
    kept = sum(k for k, _ in sizes)
    peak = kept + max(p - k for k, p in sizes)
    if free < kept:
        raise InputError(f"{runs_dir}: its disk has {size_text(free)} free, and this run writes "
                         f"about {size_text(kept)}: free some space, or set RUNS_DIR to a "
                         "folder on another disk")
    if free < peak:
        print(f"warning: {runs_dir}: its disk has {size_text(free)} free, and the checkpoints "
              f"need up to {size_text(peak)} more: the run may go on without them")


def save_atomic(path, write):
    """Write a file through write(f) so that it is whole or not there at all.

    The data goes to a temporary file in the same folder, is flushed to disk,
    then os.replace puts it in place in one step: a crash, Ctrl-C or a full
    disk midway leaves any earlier file at `path` as it was.
    Raises OSError naming `path` as its filename (never the temporary
    file's name, nor none, as a failed write names), so that the message
    says which file could not be written.
    """
    folder = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)  # mkstemp makes the file private; give it the usual mode
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(e, OSError) and (e.filename is None or e.filename == tmp
                                       or os.path.basename(str(e.filename)).startswith(".tmp-")):
            e.filename, e.filename2 = path, None
        raise


def save_weights(path, result):
    """Pickle the result dict (layers, params, config, history, ...) atomically."""
    save_atomic(path, lambda f: pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL))


class _SafeUnpickler(pickle.Unpickler):
    """An unpickler that builds only NumPy arrays, dtypes and builtin data.

    Plain pickle.load imports and calls whatever a file names, so a weights
    file from someone else could run any command. Lists, dicts, tuples,
    strings and numbers need no import; the few NumPy names below are all an
    array needs, and anything else is refused before it runs.
    NumPy 2 renamed numpy.core to numpy._core, and a pickle names the module
    of the NumPy that wrote it: either spelling is taken, and each name is
    looked up in the module the installed NumPy has (NumPy 1.26 has no
    numpy._core.numeric; a NumPy without numpy.core may come), so weights
    travel between NumPy 1.26 and 2 both ways (numpy/numpy#28340).
    """

    ALLOWED = frozenset({("numpy", "ndarray"), ("numpy", "dtype")})
    CORE = frozenset({("multiarray", "_reconstruct"), ("multiarray", "scalar"),
                      ("numeric", "_frombuffer")})  # in numpy._core (NumPy 2) or numpy.core
    CORES = ("numpy._core", "numpy.core")[::1 if int(np.__version__.split(".")[0]) >= 2 else -1]

    def find_class(self, module, name):
        package, _, inner = module.rpartition(".")
        if package in self.CORES and (inner, name) in self.CORE:
            for core in self.CORES:  # the installed NumPy's own spelling first
                try:
                    return super().find_class(f"{core}.{inner}", name)
                except ImportError:
                    continue
            raise pickle.UnpicklingError(f"{module}.{name} is in no module of NumPy "
                                         f"{np.__version__}")
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused to load {module}.{name}")


def _read_pickle(path, kind):
    """Unpickle a file of this project with the restricted unpickler, or raise InputError.

    kind names the file in messages ("weights file", "checkpoint").
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise InputError(f"{path}: no such {kind}") from None
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e.strerror})") from None
    if not data.startswith(b"\x80"):  # every pickle of protocol 2 or later starts so
        raise InputError(f"{path}: is {_looks_like(data)}, not a {kind} of this project")
    try:
        return _SafeUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError as e:
        if "truncated" in str(e):
            raise InputError(f"{path}: the {kind} is cut short or damaged (its pickle "
                             "data ends too soon)") from None
        why = " ".join(str(e).split())[:80]  # one line
        raise InputError(f"{path}: not a {kind} of this project ({why})") from None
    except (EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError,
            MemoryError) as e:  # truncated or garbled files fail in many ways
        raise InputError(f"{path}: not a readable {kind} ({type(e).__name__})") from None


def _looks_like(data):
    """What a file's first bytes say it is, in a few words, for an error message."""
    kind = errors.kind_of_bytes(data)
    if kind:
        return kind
    if not data:
        return "empty"
    try:
        first = data[:200].decode("utf-8").splitlines()[0]
    except (UnicodeDecodeError, IndexError):
        return "not a pickle"
    return f"text (it starts {first[:24]!r})"


def _float_array(a, shape):
    """Whether a is a float ndarray of this shape."""
    return isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.shape == shape


NAMES = {2: ("W", "b"), 3: ("W", "gamma", "beta")}  # a layer's arrays, as tuples held them


def named(params):
    """params (or an optimiser's velocities or moments) as lists of dicts, as utils has them.

    Files written before the layers had names hold a tuple per layer, (W, b)
    or (W, gamma, beta); they are turned into {"W", "b"} or {"W", "gamma",
    "beta"}. Anything else is returned as it is, for params_match to judge.
    """
    if not isinstance(params, list):
        return params
    return [dict(zip(NAMES[len(layer)], layer))
            if isinstance(layer, (tuple, list)) and len(layer) in NAMES else layer
            for layer in params]


def params_match(layers, params):
    """Whether params has the float arrays these layer widths give: {"W", "b"} per layer,
    or {"W", "gamma", "beta"} for a hidden layer with batch normalisation."""
    ok = (isinstance(layers, list) and len(layers) >= 2
          and all(isinstance(n, int) and n >= 1 for n in layers)
          and isinstance(params, list) and len(params) == len(layers) - 1)
    if ok:
        for l, ((n_in, n_out), layer) in enumerate(zip(itertools.pairwise(layers), params)):
            kinds = NAMES.values() if l < len(params) - 1 else [NAMES[2]]  # output: a bias
            ok = (ok and isinstance(layer, dict) and tuple(layer) in kinds
                  and _float_array(layer["W"], (n_in, n_out))
                  and all(_float_array(a, (n_out,)) for k, a in layer.items() if k != "W"))
    return ok


def checked_stats(path, stats, params):
    """The running statistics of a weights file or checkpoint, checked against its params.

    None, or one {"mean", "var"} per layer with batch normalisation (a file
    written before the names holds a (mean, variance) pair, read as such),
    each of the layer's width with no variance below 0, and None for every
    other layer. Raises InputError.
    """
    normalised = ["gamma" in layer for layer in params]
    if stats is None:
        if any(normalised):
            raise InputError(f"{path}: has batch normalisation but no running statistics")
        return None
    ok = isinstance(stats, list) and len(stats) == len(params)
    if ok:
        stats = [dict(zip(("mean", "var"), running)) if isinstance(running, (tuple, list))
                 else running for running in stats]
        for norm, layer, running in zip(normalised, params, stats):
            if not norm:
                ok = ok and running is None
                continue
            width = layer["gamma"].shape
            ok = (ok and isinstance(running, dict) and tuple(running) == ("mean", "var")
                  and all(_float_array(a, width) for a in running.values())
                  and not np.any(running["var"] < 0))
    if not ok:
        raise InputError(f"{path}: its running statistics do not match its params")
    return stats


def check_finite(path, params, stats=None, what=""):
    """Raise InputError unless every array of params and stats is finite (no NaN, no inf).

    Weights that hold a NaN (a run that diverged, a file edited by hand)
    would answer every input with class 0 and a made-up accuracy; they are
    refused, naming the first layer (from 1, input side first) and array.
    what -- words naming the params in the message, e.g. "the best epoch's".
    """
    for l, layer in enumerate(params):
        for name, a in layer.items():
            if not np.isfinite(a).all():
                raise InputError(f"{path}: {what or 'its'} {name} of layer {l + 1} holds NaN or "
                                 "infinite values (a run that diverged?): unusable weights")
    for l, running in enumerate(stats or []):
        for name, a in (running or {}).items():
            if not np.isfinite(a).all():
                raise InputError(f"{path}: {what or 'its'} running {name} of layer {l + 1} "
                                 "holds NaN or infinite values: unusable weights")


def load_weights(path):
    """Load a weights file written by save_weights, safely, and check its shapes.

    Returns the result dict; its params are checked to be float arrays whose
    shapes match its layers: {"W", "b"} per layer, or {"W", "gamma", "beta"} for a
    hidden layer with batch normalisation. Its "stats" (the running
    statistics) are checked to hold a {"mean", "var"} of the layer's
    width for each such layer and None for the others; a file without
    "stats" (written before batch normalisation existed) loads with stats
    None. Every array must be finite (check_finite). Raises InputError on
    anything else.
    """
    result = _read_pickle(path, "weights file")
    if isinstance(result, dict) and {"state", "rng", "best"} <= set(result):
        raise InputError(f"{path}: a checkpoint, not a weights file: continue its run with "
                         "--RESUME, or use the weights.pkl its run saves")
    if not isinstance(result, dict) or "layers" not in result or "params" not in result:
        raise InputError(f"{path}: not a weights file of this project (no layers/params)")
    layers, params = result["layers"], named(result["params"])
    if not params_match(layers, params):
        raise InputError(f"{path}: its params do not match its layers {layers!r}")
    result["params"] = params
    result["stats"] = checked_stats(path, result.get("stats"), result["params"])
    classes = result.setdefault("classes", None)  # weights saved before class names: None
    if classes is not None and not (isinstance(classes, list) and len(classes) <= layers[-1]
                                    and all(isinstance(n, str) for n in classes)):
        raise InputError(f"{path}: its class names do not match its {layers[-1]} outputs")
    check_finite(path, result["params"], result["stats"])
    return result


# ----------------------------------------------------------------------------
# checkpoints: everything needed to continue a run from the end of an epoch


def checkpoint(folder, state, seconds, every, epoch_seconds):
    """Write a run's checkpoint; return how many epochs to wait before the next one.

    state -- what save_checkpoint takes, but for "seconds": those of this
    session's training, added to those of the sessions before it. A
    checkpoint is written every epoch while that costs at most
    CHECKPOINT_SHARE (5%) of an epoch; a network for which writing costs more gets one every few epochs
    instead, and says so when a later checkpoint of the run shows it (a run near its end
    writes no more, and says nothing). A checkpoint that cannot be written (a full disk)
    is a warning, and training goes on without.
    """
    begin = time.perf_counter()
    try:
        save_checkpoint(folder, {**state, "seconds": state["seconds"] + seconds})
    except OSError as e:
        print(f"warning: could not write the checkpoint in {folder} ({e.strerror}); "
              "training goes on without one")
        return math.inf
    cost = time.perf_counter() - begin
    if every == 1 and cost > CHECKPOINT_SHARE * epoch_seconds:
        every = math.ceil(cost / (CHECKPOINT_SHARE * epoch_seconds))
        if state["epoch"] + every < state["settings"]["EPOCHS"]:  # else none is left to space
            print(f"writing a checkpoint takes {cost * 1000:.0f} ms, more than 5% of an "
                  f"epoch: one every {every} epochs from now on")
    return every


def resume_plan(folder, c, must=True):
    """What --RESUME does for the run of settings c in folder, found before any data is read.

    Returns ("resume", checkpoint), ("finished", the saved result dict) or,
    when must is False (an entry of COMPARE that never started), ("start",
    None). Raises InputError for a checkpoint of other settings, or, when
    must is True, when there is nothing to resume: the message says so of a
    run of these settings that stopped before its first checkpoint (its
    folder holds its weights or settings.json), and otherwise names the
    nearest run and the settings that differ.
    """
    path = os.path.join(folder, "checkpoint.pkl")
    if os.path.exists(path):
        checkpoint = load_checkpoint(path, c["LAYERS"])
        if checkpoint["settings"] != recorded(c):
            raise InputError(f"{path}: a checkpoint of other settings "
                             f"({'; '.join(changed(checkpoint['settings'], recorded(c)))})")
        return "resume", checkpoint
    weights = os.path.join(folder, "weights.pkl")
    if os.path.exists(weights):
        result = load_weights(weights)
        if result.get("status") == "finished":
            return "finished", result
    if not must:
        return "start", None
    stopped = os.path.exists(weights) or folder_settings(folder) == recorded(c)
    if stopped:  # this very run, stopped in its first epoch: not another run's "nearest"
        kept = f" ({weights} keeps what it trained)" if os.path.exists(weights) else ""
        raise InputError(f"{folder}: this run stopped before its first checkpoint{kept}, so "
                         "there is nothing to resume: run the command again without --RESUME "
                         "to train it anew")
    near = []  # the other runs: (how many settings differ, name, which)
    for other in sorted(os.listdir(c["RUNS_DIR"])) if os.path.isdir(c["RUNS_DIR"]) else []:
        theirs = read_settings(os.path.join(c["RUNS_DIR"], other))
        if theirs and os.path.join(c["RUNS_DIR"], other) != folder:
            near.append((len(changed(theirs, recorded(c))), other, changed(theirs, recorded(c))))
    hint = ""
    if near:
        _, other, differ = min(near)
        hint = (f"; {other} holds a run of these same settings under another NAME"
                if not differ else
                f"; the nearest run, {other}, differs in {'; '.join(differ)}"
                + (" (more EPOCHS stretch the schedule, so it is another run: start it "
                   "without --RESUME)" if any(d.startswith("EPOCHS ") for d in differ) else ""))
    raise InputError(f"{folder}: no checkpoint to resume for these settings{hint}")


def has_checkpoint(folder):
    """Whether folder holds the checkpoint of an unfinished run."""
    return os.path.exists(os.path.join(folder, "checkpoint.pkl"))


def refuse_to_replace_checkpoints(folders):
    """Raise InputError if a folder holds the checkpoint of an unfinished run.

    Running the command of a stopped run again without --RESUME would start
    it over and replace its checkpoint at the end of the first epoch,
    losing every epoch the stopped run had trained: the user says which.
    """
    for folder in folders:
        if has_checkpoint(folder):
            raise InputError(f"{folder}: holds the checkpoint of an unfinished run of these "
                             "settings (stopped, or training now): continue it with --RESUME, "
                             "or start it over with --RESUME=False")


def remove(path):
    """Delete a file if it is there; a file that cannot be deleted is left."""
    try:
        os.remove(path)
    except OSError:
        pass


def save_checkpoint(folder, checkpoint):
    """Write folder/checkpoint.pkl atomically: a kill midway leaves the previous one whole.

    checkpoint -- a dict: settings, epoch, params, state (the optimiser's),
    rng (the generator's bit_generator.state), history, best, seconds.
    """
    save_atomic(os.path.join(folder, "checkpoint.pkl"),
                lambda f: pickle.dump(checkpoint, f, protocol=pickle.HIGHEST_PROTOCOL))


def load_checkpoint(path, layers):
    """Load a checkpoint written by save_checkpoint, safely, and check its shapes.

    layers -- the widths the run's settings give. Returns the checkpoint dict.
    Raises InputError for a missing, truncated, foreign or mismatched file,
    or one holding NaN or infinite arrays, saying how to start over instead.
    """
    again = "; start over with --RESUME=False"
    try:
        checkpoint = _read_pickle(path, "checkpoint")
    except InputError as e:
        raise InputError(f"{e}{again}") from None
    keys = {"settings", "epoch", "params", "state", "rng", "history", "best", "seconds"}
    if not isinstance(checkpoint, dict) or not keys <= set(checkpoint):
        raise InputError(f"{path}: not a checkpoint of this project{again}")
    state, best = checkpoint["state"], checkpoint["best"]
    checkpoint["params"] = named(checkpoint["params"])
    if isinstance(best, dict):
        best["params"] = named(best.get("params"))
    if isinstance(state, dict):
        state.update({k: named(state[k]) for k in ("velocity", "m", "v") if k in state})
    moments = [state[k] for k in ("velocity", "m", "v") if k in state]
    ok = (params_match(layers, checkpoint["params"]) and isinstance(best, dict)
          and params_match(layers, best.get("params")) and isinstance(state.get("step"), int)
          and all(params_match(layers, moment) for moment in moments)
          and isinstance(checkpoint["rng"], dict) and isinstance(checkpoint["epoch"], int))
    if not ok:
        raise InputError(f"{path}: its arrays do not match the layers {layers!r}{again}")
    try:
        checkpoint["stats"] = checked_stats(path, checkpoint.get("stats"), checkpoint["params"])
        best["stats"] = checked_stats(path, best.get("stats"), best["params"])
        check_finite(path, checkpoint["params"], checkpoint["stats"])
        check_finite(path, best["params"], best["stats"], "the best epoch's")
        for moment in moments:
            check_finite(path, moment, what="the optimiser's")
    except InputError as e:
        raise InputError(f"{e}{again}") from None
    return checkpoint


def prediction_name(folder, source, stem):
    """The name the outputs of predicting `source` take in a weights folder.

    stem, the input file's name, unless another input of the same name was
    predicted there before (data/test.csv, then other/test.csv): then stem
    and `~` with 8 hex digits of the SHA-256 of the input's absolute path,
    so that one input's predictions never replace another's. The same
    input gets the same name again. The folder's predicted.json records
    each name's input.
    """
    record_path = os.path.join(folder, "predicted.json")
    try:
        with open(record_path, encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError):
        record = {}
    if not isinstance(record, dict):
        record = {}
    source = os.path.abspath(source)
    name = stem
    if record.get(stem, source) != source:
        name = f"{stem}~{hashlib.sha256(source.encode()).hexdigest()[:8]}"
    if record.get(name) != source:
        record[name] = source
        text = json.dumps(record, indent=1, sort_keys=True) + "\n"
        try:
            save_atomic(record_path, lambda f: f.write(text.encode()))
        except OSError:  # a read-only folder: what is written there next fails and says so
            pass
    return name


def write_predictions(path, labels, ids=None, classes=None):
    """Write predicted labels as Kaggle's submission CSV: ImageId,Label, ImageId from 1.

    ids -- None, or (column name, list of ids as text) from data.row_ids:
    the input's own ids and the name of their column, carried over.
    classes -- the class names the labels stand for (None: the labels are
    written as numbers); a name holding a comma or quote is quoted.
    """
    name, numbers = ids or ("ImageId", range(1, len(labels) + 1))
    shown = [class_name(classes, int(label)) for label in labels]
    lines = [f"{name},Label"] + [f"{i},{csv_cell(label)}" for i, label in zip(numbers, shown)]
    save_atomic(path, lambda f: f.write(("\n".join(lines) + "\n").encode()))


def csv_cell(text):
    """A CSV cell: text as it is, or quoted (quotes doubled) when it holds , " or a line break."""
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if any(ch in text for ch in ',"\n\r') else text


def save_result(folder, result, chance):
    """Save a run's result dict as folder/weights.pkl, unless that would lose something.

    Never saves weights that never trained (result["steps"] == 0), and never
    replaces an earlier run's weights in the folder (the same settings) by
    worse ones: a stopped or diverged run's over a finished run's, or weights
    at chance (best validation accuracy, or training accuracy without
    validation rows, within a point of `chance`) over weights that learned.
    If the folder cannot be written (a full disk, say), the weights go to
    the system's temporary folder instead; when the disk is full and a
    finished run's own checkpoint holds space there, make_room then moves
    them where they belong.
    Returns (path or None, a line saying what happened, ok): ok is False
    when the weights could not be written where they belong.
    """
    path = os.path.join(folder, "weights.pkl")
    if not result["steps"]:
        return None, "nothing saved: no epoch finished, so there were no trained weights to keep", True
    history = result["history"]
    scores = [v for v in history["val_acc"] + history["train_acc"] if not math.isnan(v)]
    at_chance = max(scores, default=0.0) <= chance + 0.01
    try:
        earlier = load_weights(path) if os.path.exists(path) else None
    except InputError:
        earlier = None  # unreadable: nothing to keep
    if earlier is not None:
        if earlier.get("status") == "finished" and result["status"] != "finished":
            return None, (f"kept the finished run's weights in {path}; this "
                          f"{result['status']} run's were not saved over them"), True
        earlier_scores = earlier["history"]["val_acc"] + earlier["history"]["train_acc"]
        if at_chance and max(earlier_scores, default=0.0) > chance + 0.01:
            return None, f"kept the weights in {path}: this run's score no better than chance", True
    written, error = save_or_spare(path, lambda p: save_weights(p, result))
    if error is not None and result["status"] == "finished" and make_room(folder, written,
                                                                          error, result):
        written, error = path, None
    if error is None:
        return path, f"weights saved to {path}", True
    return written, (f"warning: could not write {path} ({error.strerror}); the weights are in "
                     f"{written} (use --WEIGHTS={written})"), False


def make_room(folder, spare, error, result):
    """Write a finished run's weights into folder over the space its checkpoint held,
    once they are safe in the spare file; return whether they are there now.

    Only for a full disk (error ENOSPC or EDQUOT) and a folder holding a
    checkpoint. The checkpoint is removed only after save_or_spare has
    written the weights whole to spare (fsynced, in the system's temporary
    folder: never the same full disk), so a kill at any moment leaves the
    checkpoint or a whole weights file; once the weights are written in
    folder, the spare copy and its folder go. When they still do not fit,
    the spare stays, and says where they are.
    """
    checkpoint = os.path.join(folder, "checkpoint.pkl")
    if error.errno not in (errno.ENOSPC, errno.EDQUOT) or not os.path.exists(checkpoint):
        return False
    remove(checkpoint)  # what it held is in the spare weights: the run is finished
    try:
        save_weights(os.path.join(folder, "weights.pkl"), result)
    except OSError:
        return False
    remove(spare)
    try:
        os.rmdir(os.path.dirname(spare))  # save_or_spare's own folder
    except OSError:
        pass
    return True


def save_or_spare(path, save):
    """Save a file with save(path) or, when that fails, in a new folder of the system's
    temporary folder, so that what was computed is not lost.

    save -- a function of a path that writes the file there (atomically),
    raising OSError when it cannot. Returns (the path written, None), or
    (the spare path, the OSError of the first try). An OSError on the
    spare try too is raised.
    """
    try:
        save(path)
        return path, None
    except OSError as e:
        os.makedirs(tempfile.gettempdir(), exist_ok=True)
        folder = os.path.basename(os.path.dirname(os.path.abspath(path)))
        spare = os.path.join(tempfile.mkdtemp(prefix=f"{folder[:40]}-",
                                              dir=tempfile.gettempdir()), os.path.basename(path))
        save(spare)
        return spare, e


# ----------------------------------------------------------------------------
# the run log: one row per run, in RUNS_DIR/log.csv


def append_log(runs_dir, row):
    """Add one row (a dict with LOG_COLUMNS) to runs_dir/log.csv, whole or not at all.

    The file is rewritten through save_atomic, so a crash or a kill during
    the write leaves the earlier rows as they were; the rows are few.
    """
    path = os.path.join(runs_dir, "log.csv")
    os.makedirs(runs_dir, exist_ok=True)
    with open(os.path.join(runs_dir, ".log.lock"), "a") as lock:
        if fcntl:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            remove_leftovers(runs_dir, "log.csv")  # a killed append's, now none is writing
        try:
            with open(path, "rb") as f:
                old = f.read()
        except FileNotFoundError:
            old = b""
        damage = _log_damage(old) if old else ""
        if damage:  # a row added to it would be unreadable too: keep it aside, start anew
            aside = os.path.join(runs_dir, "log-damaged-" + datetime.datetime.now().strftime(
                "%Y%m%d-%H%M%S") + ".csv")
            os.replace(path, aside)
            print(f"warning: {path}: {damage}: not a readable run log; kept as {aside}, and a "
                  "new log started", file=sys.stderr)
            old = b""
        if old and not old.endswith(b"\n"):
            old += b"\n"
        out = io.StringIO()
        writer = csv.DictWriter(out, LOG_COLUMNS, lineterminator="\n")
        if not old:
            writer.writeheader()
        writer.writerow(row)
        save_atomic(path, lambda f: f.write(old + out.getvalue().encode("utf-8")))


def _log_damage(text):
    """What is wrong with a run log's bytes, in a few words naming the line, or "" if nothing:
    not UTF-8, another header than LOG_COLUMNS, a row of another width (a quote never
    closed makes the rest of the file one field)."""
    try:
        rows = list(csv.reader(io.StringIO(text.decode("utf-8"), newline="")))
    except UnicodeDecodeError as e:
        line = text.count(b"\n", 0, e.start) + 1
        return f"line {line} is not UTF-8 text"
    except csv.Error as e:
        return f"not CSV ({e})"
    if not rows or rows[0] != list(LOG_COLUMNS):
        return "line 1 is not its header"
    for number, row in enumerate(rows[1:], start=2):
        if row and len(row) != len(LOG_COLUMNS):
            return f"row {number} has {len(row)} fields, not {len(LOG_COLUMNS)}"
    return ""


def log_row(name, c, defaults, result):
    """The run log's row for a run's result dict."""
    history = result["history"]
    best_val = max((v for v in history["val_acc"] if not math.isnan(v)), default=math.nan)
    test = result["test_accuracy"]
    return {
        "time": datetime.datetime.now().isoformat(timespec="seconds"), "name": name,
        "status": result["status"], "epochs": len(history["epoch"]),
        "kept_epoch": result["best_epoch"],
        "best_val_acc": "" if math.isnan(best_val) else f"{best_val:.4f}",
        "test_acc": "" if test is None else f"{test:.4f}",
        "train_seconds": f"{result['train_seconds']:.1f}",
        "settings": " ".join([f"LAYERS={arch_name(c['LAYERS'])}", *differences(c, defaults),
                              *threads_used(history)]),
    }


def threads_used(history):
    """['threads=2'], or ['threads=2,1'] when a run lowered them: the BLAS threads change
    the last bits of the results, and THREADS is not part of a run's name."""
    used = list(dict.fromkeys(t for t in history.get("threads", []) if t))
    return [f"threads={','.join(map(str, used))}"] if used else []


def read_log(runs_dir):
    """The run log as text: a table of every run, best validation accuracy first, its test
    accuracy beside it (a model is chosen on the validation rows, never on the test set;
    the test accuracy breaks ties and reports).

    Raises InputError for a missing or unreadable log.
    """
    import pandas as pd

    path = os.path.join(runs_dir, "log.csv")
    if not os.path.exists(path):
        raise InputError(f"{path}: no runs logged yet (every run adds a row)")
    with open(path, "rb") as f:
        damage = _log_damage(f.read())
    if damage:
        raise InputError(f"{path}: {damage}: not a readable run log (mend that line; else the "
                         "next run keeps it aside as log-damaged-<date>-<time>.csv and starts "
                         "a new log)")
    log = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column in ("test_acc", "best_val_acc"):
        log[column] = pd.to_numeric(log[column], errors="coerce")
    log = log.sort_values(["best_val_acc", "test_acc"], ascending=False, na_position="last",
                          kind="stable")
    for column in ("test_acc", "best_val_acc"):
        log[column] = log[column].map(lambda v: "-" if math.isnan(v) else f"{v:.2%}")
    shown = ["best_val_acc", "test_acc", "status", "epochs", "kept_epoch", "train_seconds",
             "time", "name"]
    width = max(map(len, log["name"]), default=4)
    aside = sorted(name for name in os.listdir(runs_dir)
                   if name.startswith("log-damaged-") and name.endswith(".csv"))
    return f"{len(log)} run{'s' * (len(log) != 1)} in {path}, best validation accuracy first:\n" + log[shown].to_string(
        index=False, justify="left", formatters={"name": lambda s: f"{s:<{width}}"}) + "".join(
        f"\nand the runs of an earlier log kept aside, unreadable: {os.path.join(runs_dir, name)}"
        for name in aside)


# ----------------------------------------------------------------------------
# a run's course, as main.py tells it: plan, start, train (state and checkpoints), save, finish


def plan(c, entries, defaults, argv):
    """Before any data is read: check that every run can be written, and find its folder.

    entries -- (label, settings) of each network to train (one, or COMPARE's).
    Checks the folder is writable, the memory and the disk space suffice,
    claims each run's folder that exists already (start_folder's lock: a
    run of the same settings training there now is refused here, before
    its checkpoint is read as if to resume it), and, without --RESUME,
    that no folder holds an unfinished run's checkpoint (run again without --RESUME it would replace it; --RESUME=False
    said so explicitly). Returns (folders, plans): (folder, earlier) per
    entry from run_folder, and per entry None or, with --RESUME, what
    resume_plan found. Raises InputError (or MemoryError's kin from
    machine.check_memory) with one line.
    """
    check_writable(c["RUNS_DIR"])
    machine.check_memory(entries)
    check_space(c["RUNS_DIR"], [config for _, config in entries])
    folders = [run_folder(config, defaults) for _, config in entries]
    for folder, _ in folders:  # another run of these settings training there now: refused
        if os.path.isdir(folder):  # (a folder made later is claimed by start_folder)
            _claim(folder)
    plans = [resume_plan(folder, config, must=not c["COMPARE"]) if c["RESUME"] else None
             for (_, config), (folder, _) in zip(entries, folders)]
    if not c["RESUME"] and not any(a.startswith("--RESUME") for a in argv):  # nor said not to
        refuse_to_replace_checkpoints([folder for folder, _ in folders])
    return folders, plans


def start_run(folder, c, earlier, resume, tag=""):
    """Claim a run's folder and record its settings (start_folder), saying what it continues
    or replaces: resume is the checkpoint continued, or None; earlier, whether the folder
    holds an earlier run of these settings."""
    name = os.path.basename(folder)
    if resume and training_done(c, resume):
        print(f"{tag}finishing {name}: its {resume['epoch']} epoch"
              f"{'s are' if resume['epoch'] != 1 else ' is'} trained; writing its results")
    elif resume:
        print(f"{tag}resuming {name} at epoch {resume['epoch'] + 1} of {c['EPOCHS']}")
    elif earlier:
        print(f"{folder} holds an earlier run of these settings; this run replaces it if it "
              "finishes" + (" (its checkpoint is replaced as this run goes: --RESUME=False)"
                            if has_checkpoint(folder) else ""))
    start_folder(folder, c)
    if resume and not _same_checkpoint(folder, c, resume):  # another run ended meanwhile
        raise InputError(f"{folder}: its run ended while this one started (the checkpoint read "
                         "is gone or replaced): run the command again")


def _same_checkpoint(folder, c, resume):
    """Whether folder's checkpoint is still the one resume was read from: another process of
    these settings may have ended (and removed or rewritten it) between the reading and this
    process's claim of the folder."""
    path = os.path.join(folder, "checkpoint.pkl")
    return (os.path.exists(path)
            and load_checkpoint(path, c["LAYERS"])["epoch"] == resume["epoch"])


def training_state(c, params, history, resume, rng, rows):
    """What a run's training carries from epoch to epoch, and its checkpoint holds.

    A dict: params, stats (batch normalisation's running statistics, or
    None), state (the optimiser's), epoch (the last finished), history,
    seconds (of training in earlier sessions), best (the kept epoch's params,
    stats, epoch, key, steps). Without resume they start afresh from params;
    with resume (a checkpoint from load_checkpoint) they are the
    checkpoint's, and rng is put back in the state it had. rows is the data's
    fingerprint (data.fingerprint): a checkpoint of other rows is refused
    with InputError.
    """
    stats = utils.init_stats(params)
    t = {"params": params, "stats": stats, "state": utils.init_state(params, c["OPTIMISER"]),
         "epoch": 0, "history": history, "seconds": 0.0,
         "best": {"params": utils.copy_params(params), "stats": utils.copy_params(stats),
                  "epoch": 0, "key": None, "steps": 0}}
    if resume and resume.get("rows", rows) != rows:
        raise InputError(f"{c['TRAIN_CSV']}: its rows are not those the checkpoint was "
                         "trained on (the file changed since, or another file has its "
                         "name): start over with --RESUME=False")
    if resume:
        t.update({k: resume[k] for k in t})
        rng.bit_generator.state = resume["rng"]
        for key, empty in history.items():  # a checkpoint written before a record existed
            t["history"].setdefault(key, empty)
    return t


def training_done(c, t):
    """Whether a run whose training state (or checkpoint) is t has nothing left to train:
    its last epoch (EPOCHS) is done, or PATIENCE epochs passed without a better one."""
    return t["epoch"] >= c["EPOCHS"] or bool(
        c["PATIENCE"] and t["epoch"] and t["epoch"] - t["best"]["epoch"] >= c["PATIENCE"])


class Checkpoints:
    """A watcher of the training loop (main.notify) that writes the run's checkpoint.

    After every epoch, the last included, it writes everything needed to
    continue: training_state's dict t, the generator's state, the settings,
    the data's fingerprint and the BLAS threads; see checkpoint for how often
    when writing is slow (the last epoch's is always written). The last
    epoch's checkpoint keeps what was trained until the weights are saved
    (finish_run removes it): a run killed while writing its results is
    finished by --RESUME without training again. Without a folder it writes
    nothing.
    """

    def __init__(self, folder, c, t, rng, threads, rows):
        self.folder, self.c, self.t, self.rng, self.threads, self.rows = (
            folder, c, t, rng, threads, rows)
        self.every, self.started = 1, time.perf_counter()

    def begin(self, run):
        self.started = time.perf_counter()

    def epoch(self, history):
        epoch = self.t["epoch"]
        if self.folder and (epoch % self.every == 0 or training_done(self.c, self.t)):
            self.every = checkpoint(self.folder, {
                **self.t, "rng": self.rng.bit_generator.state, "settings": recorded(self.c),
                "rows": self.rows, "threads": self.threads.threads},
                time.perf_counter() - self.started, self.every, history["seconds"][-1])


def details(c, defaults):
    """The settings of a run that differ from the defaults, in words for a picture's subtitle."""
    return ", ".join(differences(c, defaults)) or "the default settings"


def save_run(folder, c, result, defaults):
    """Save a trained run's weights (save_result) and settings.json; return the paths written.

    Sets result's "saved" (the weights' path, or None), "written" (False when
    they could not go where they belong) and "folder", and prints what
    save_result says when it did not simply save.
    """
    path, note, result["written"] = save_result(folder, result, result["chance"])
    result.update(folder=folder, saved=path)
    if not path or not result["written"]:
        print(note, file=sys.stderr if not result["written"] else sys.stdout)
    return [path, finish_folder(folder, c)]  # settings.json, again if deleted meanwhile


def finish_run(folder, c, result, Z, y_test, written, defaults, tag=""):
    """A run's last writes: predictions for a test file without labels, the checkpoint's
    removal once a finished run is saved, and the log row; then the list of what was written.

    Z -- the test rows' logits, (n, k); y_test -- their labels, or None.
    """
    if result["saved"] and y_test is None:
        written.append(os.path.join(folder, "predictions.csv"))
        write_predictions(written[-1], Z.argmax(axis=1), data.row_ids(settings.found(c["TEST_CSV"])) if
                          data.formats.form_of(settings.found(c["TEST_CSV"])) == "csv" else None,
                          result.get("classes"))
        print(f"{c['TEST_CSV']} has no labels: no test accuracy; predictions in {written[-1]}")
    if result["status"] == "finished" and result["saved"]:  # here, or spared elsewhere
        remove(os.path.join(folder, "checkpoint.pkl"))  # nothing left to resume
    append_log(c["RUNS_DIR"], log_row(os.path.basename(folder), c, defaults, result))
    written.append(os.path.join(c["RUNS_DIR"], "log.csv"))
    print(f"{tag}wrote:\n" + "\n".join(f"  {p}" for p in written if p))
