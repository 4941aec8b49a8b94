"""What --PREDICT reads besides one grey picture: data files of any form (CSV, IDX, .npz)
with the class names and orientation the weights were trained with, a colour picture, and
a folder or glob pattern of pictures (one predictions file, one contact sheet).

The weights file says how: "classes" (the class names, or None for numbers),
its settings' TRANSPOSED (a test file stored transposed is turned upright as
the training files were), and its input width (the pictures' side, grey or
colour: images.shape_of).
"""

import os
import sys

import numpy as np

import digit
import folders
import formats
import images
import plots
import runs
import stopping
import utils
from errors import InputError


def is_data_file(path):
    """Whether --PREDICT's path is a data file (CSV, IDX, .npz), not a picture or many."""
    name = os.path.basename(path).lower()
    packed = name.endswith((".gz", ".bz2", ".xz", ".zip"))
    return (packed or name.endswith((".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".xls", ".ods",
                                     ".numbers"))
            or (os.path.isfile(path) and formats.form_of(path) in ("idx", "npz")))


def is_many(path):
    """Whether --PREDICT's path names many pictures: a folder, or a pattern (* ? [)."""
    return os.path.isdir(path) or (not os.path.exists(path) and any(ch in path for ch in "*?["))


def rows_to_predict(path, saved, transposed=None):
    """The rows of a data file to classify with saved weights: (X, y).

    Read in any form formats.load_images reads (as a test file); turned
    upright when the weights were trained with TRANSPOSED="test" or "both",
    or as transposed says when it is given (a TRANSPOSED on the command line:
    "test" or "both" turn the file, "" or "train" read it as stored);
    labels given as names (or as 1..k) mapped to the weights' classes.
    Returns X uint8 (n, n_pixels) and y int64 (n,) or None. Raises InputError.
    """
    layers, classes = saved["layers"], saved.get("classes")
    X, y = formats.load_images(path, layers[-1] if classes else layers[-1] - 1, role="test")
    if X.shape[1] != layers[0]:
        raise InputError(f"{path}: has {X.shape[1]} pixel columns "
                         f"({images.describe(X.shape[1])}), the network takes {layers[0]}")
    if transposed is None and saved["config"].get("TRANSPOSED") in ("test", "both"):
        X = images.transposed(X)
        print(f"{path}: turned over its diagonal, as the weights' test file was "
              f"(TRANSPOSED={saved['config']['TRANSPOSED']}; --TRANSPOSED=\"\" reads it "
              "as stored)")
    elif transposed in ("test", "both"):
        X = images.transposed(X)
        print(f"{path}: turned over its diagonal (TRANSPOSED={transposed})")
    if y is None:
        return X, None
    if classes:
        index = {name: k for k, name in enumerate(classes)}
        texts = y.astype(str)
        unknown = sorted(set(texts.tolist()) - set(index))
        if unknown:
            raise InputError(f"{path}: labels {', '.join(map(repr, unknown[:5]))} are not among "
                             f"the weights' classes ({', '.join(classes[:6])}, ...)")
        return X, np.array([index[t] for t in texts.tolist()], dtype=np.int64)
    if y.dtype.kind == "U":
        raise InputError(f"{path}: its labels are names, but the weights were trained on "
                         "numbered classes")
    if len(y) and y.max() > layers[-1] - 1:
        raise InputError(f"{path}: label {y.max()} is outside 0..{layers[-1] - 1} (the "
                         f"network has {layers[-1]} classes)")
    return X, y


def picture_input(path, n_inputs, weights):
    """A picture read as the network takes it: (what to show, x).

    Grey networks: digit.read_image and digit.prepare_digit (cropped,
    centred, scaled like an MNIST digit, at the network's side), warnings on
    stderr; colour networks: the whole picture in colour, resized to the
    side. x uint8 (n_inputs,). Raises InputError.
    """
    shape = images.shape_of(n_inputs)
    if shape is None:
        raise InputError(f"{weights}: takes {n_inputs} inputs, not a square image")
    side, channels = shape
    if channels == 3:
        digit.read_image(path)  # its refusals: missing, a folder, not a picture, ...
        X = folders.read_pictures([path], path, side, colour=True)[0]
        if X is None:
            raise InputError(f"{path}: not a picture Pillow can read")
        from PIL import Image
        with Image.open(path) as img:
            shown = np.asarray(img.convert("RGB"), dtype=np.float32) / 255
        return shown, X[0]
    image = digit.read_image(path)
    doubts = []
    try:
        x = digit.prepare_digit(image, side=side, box=round(side * 20 / 28),
                                report=doubts.append, path=path)
    except ValueError as e:
        raise InputError(f"{path}: {e}") from None
    for doubt in doubts:
        print(f"warning: {path}: {doubt}", file=sys.stderr)
    return image, x


def _prepared(path, side, channels):
    """One picture of many as the network takes it: (x or None, a warning or "")."""
    if channels == 3:
        X, _, _, _ = folders.read_pictures([path], path, side, colour=True)
        return (None, "not a picture Pillow can read") if X is None else (X[0], "")
    doubts = []
    try:
        x = digit.prepare_digit(digit.read_image(path), side=side, box=round(side * 20 / 28),
                                report=doubts.append, path=path)
    except (ValueError, InputError) as e:
        return None, str(e).removeprefix(f"{path}: ")
    return x, "; ".join(doubts)


def predict_many(pattern, saved, weights, probabilities=None, suffix=""):
    """Classify every picture of a folder or glob pattern with saved weights.

    Writes, in the weights' folder, predictions-<name>.csv (picture, class,
    probability, warning: one row per file, a file that could not be read
    with its reason and no class) and seen-<name>.png (what the network saw
    of each picture, with its answer). probabilities -- a function of rows
    giving the class probabilities (a committee's mean, committee.py); None:
    the saved network's own. suffix -- added to <name> (a committee's
    committee.suffix, so its outputs never replace the first member's own).
    Returns the exit status (0; 2 when no picture could be read; 4 when an
    output had to go elsewhere). Raises InputError when nothing matches.
    """
    files = folders.pictures_of(pattern)
    layers, classes = saved["layers"], saved.get("classes")
    shape = images.shape_of(layers[0])
    if shape is None:
        raise InputError(f"{weights}: takes {layers[0]} inputs, not a square image")
    rows, answers = [], []
    for i, path in enumerate(files, start=1):
        x, warning = _prepared(path, *shape)
        rows.append(x)
        answers.append([os.path.relpath(path), "", "", warning])
        folders.progress(i, len(files), f"reading {pattern}")
    read = [k for k, x in enumerate(rows) if x is not None]
    if read:
        X = np.stack([rows[k] for k in read])
        P = probabilities(X) if probabilities else utils.softmax(utils.predict_logits(
            saved["params"], X, saved["config"].get("ACTIVATION", "relu"), stats=saved["stats"]))
        for k, p in zip(read, P):
            best = int(np.argmax(p))
            answers[k][1:3] = images.class_name(classes, best), f"{p[best]:.4f}"
    folder = os.path.dirname(weights)
    named = os.path.splitext(os.path.normpath(pattern))[0] if not os.path.isdir(pattern) \
        else os.path.basename(os.path.abspath(pattern))  # many/[0-2].png: many-_0-2_
    stem = runs.prediction_name(folder, pattern, runs.safe_name(
        "-".join(part for part in named.split(os.sep) if part not in ("", ".", ".."))
        or "pictures") + suffix)
    with stopping.finishing("writing the predictions and the contact sheet first"):
        wanted = os.path.join(folder, f"predictions-{stem}.csv")
        lines = ["picture,class,probability,warning"] + [
            ",".join(runs.csv_cell(str(v)) for v in row) for row in answers]
        written, failed = runs.save_or_spare(wanted, lambda p: runs.save_atomic(
            p, lambda f: f.write(("\n".join(lines) + "\n").encode())))
        if failed:
            print(f"warning: could not write {wanted} ({failed.strerror}); the predictions are in "
                  f"{written}", file=sys.stderr)
        sheet = None
        if read:
            sheet = plots.draw(os.path.join(folder, f"seen-{stem}.png"), plots.plot_contact_sheet,
                               X, [answers[k][0] for k in read],
                               [f"{answers[k][1]} ({float(answers[k][2]):.2f})" for k in read],
                               f"{pattern}: what the network saw (weights {weights})")
        unread = len(files) - len(read)
        print(f"predictions for {len(read)} of {len(files)} pictures"
              + (f" ({unread} could not be read: see the warning column)" if unread else "")
              + f"; wrote {written}" + (f", {sheet}" if sheet else ""))
    if not read:  # nothing classified: the input is at fault, as for one unreadable picture
        print(f"error: {pattern}: none of its {len(files)} picture"
              f"{'s' * (len(files) != 1)} could be read (reasons: {written})", file=sys.stderr)
        return 2
    return 4 if failed else 0
