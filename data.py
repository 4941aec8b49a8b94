"""The data: the one entry point that loads the training and test files (load_data), checks
them against the networks to train, and holds out the validation rows.

The files themselves are read by csvfiles.py (CSVs, their layouts in
layouts.py). Every problem with what the user brings (a file, a setting, a
picture) is an InputError (errors.py): one line, and exit status 2.
"""

import math
import zlib

import numpy as np

import diagnostics
import formats
import images
from augment import augmentation  # load_data checks what it needs
from csvfiles import load_csv, row_ids  # noqa: F401 (the names other modules use)
from errors import InputError, no_such_file  # noqa: F401
from layouts import SPREADSHEETS  # noqa: F401


def looks_unlike_mnist(X):
    """How rows of pixels differ from MNIST's: (kind, phrase), or ("", "") when they do not.

    MNIST's digits are light ink (up to 255) on a background of 0. A light
    background (a median pixel above 127: dark digits on white, as scans and
    Fashion-MNIST-like inversions are) or pixels that never pass 127 (a
    scale of 0..15 or 0..100) make a network trained on MNIST read them
    badly. X: uint8 (n, n_pixels); looks at up to 1,000 rows. kind is
    "light" or "dim".
    """
    sample = X[:: max(1, len(X) // 1000)]
    median, top = int(np.median(sample)), int(X.max(initial=0))
    if median > 127:
        return "light", (f"its background is light (median pixel {median}): MNIST's digits are "
                         "light on a background of 0 (255 - pixel inverts them)")
    if 1 < top <= 127:
        return "dim", f"its pixels never pass {top}: MNIST's run from 0 to 255"
    return "", ""


def shared_rows(X, X_test):
    """How many rows of X_test are also rows of X (identical pixels). uint8 arrays."""
    seen = {row.tobytes() for row in X}
    return sum(row.tobytes() in seen for row in X_test)


def fingerprint(*arrays):
    """A short text that changes when any of the arrays does: the CRC-32 of their bytes
    and their shapes (zlib; about 50 ms for MNIST's 60,000 training rows). Not a
    cryptographic hash: it tells a changed file from the same one, no more."""
    crc = 0
    for A in arrays:
        crc = zlib.crc32(np.ascontiguousarray(A).data, zlib.crc32(repr(A.shape).encode(), crc))
    return f"{crc:08x}"


def split_validation(X, y, fraction, rng):
    """Hold out a random `fraction` of the rows as a validation set.

    Returns (X_train, y_train, X_val, y_val). The split depends only on rng,
    so the same seed always holds out the same rows.
    """
    order = rng.permutation(len(X))
    n_val = round(fraction * len(X))
    val, train = order[:n_val], order[n_val:]
    return X[train], y[train], X[val], y[val]


class Split(tuple):
    """What load_data returns: (X_train, y_train, X_val, y_val, X_test, y_test), unpacked as
    a tuple, with .classes: the class names (list of str, class k is classes[k]), or None
    when the labels are the classes' own numbers 0..k-1."""

    classes = None


def _read(c, key, outputs, note, role):
    """One data file of the settings c (key TRAIN_CSV or TEST_CSV), in any form
    formats.load_images reads, its labels allowed up to `outputs` (labels 1..k are
    told apart from 0..k-1 by the caller). Returns (X, y)."""
    path, labels = c[key], c.get(key.replace("_CSV", "_LABELS"), "")
    try:
        return formats.load_images(path, outputs, note, role=role, labels=labels)
    except InputError:
        # the message of a label past `outputs` names the range 0..outputs - 1
        return formats.load_images(path, outputs - 1, note, role=role, labels=labels,
                                   report=lambda line: None)


def _label_range(path, y, outputs, note, reread):
    """Raise InputError for the first label of y past outputs - 1 (a CSV is read again by
    reread, which names its line and column)."""
    if y is not None and y.dtype.kind != "U" and len(y) and y.max() > outputs - 1:
        reread()
        row = int(np.argmax(y > outputs - 1))
        raise InputError(f"{path}: row {row + 1}: label {y[row]} is outside 0..{outputs - 1}{note}")


def class_names(c, y, y_test, outputs, note, reread):
    """Map the labels to classes 0..k-1: (y, y_test, classes).

    Names (text) are numbered in alphabetical order, and the mapping is
    printed; labels 1..k (EMNIST letters' 1..26) with LAYERS[-1] = k are
    read as classes 0..k-1 (label - 1) and keep their own numbers as names,
    said; labels 0..k-1 are the classes themselves (classes None). reread(key)
    reads a file again for its error message. Raises InputError.
    """
    train, test = c["TRAIN_CSV"], c["TEST_CSV"]
    if y.dtype.kind == "U":
        classes = sorted(set(y.tolist()))
        if len(classes) > outputs:
            raise InputError(f"{train}: its labels name {len(classes)} classes "
                             f"({', '.join(classes[:4])}, ...){note}: set LAYERS[-1]={len(classes)}")
        if y_test is not None:
            if y_test.dtype.kind != "U":
                raise InputError(f"{test}: its labels are numbers, {train}'s are names: label "
                                 "both files the same way")
            unknown = sorted(set(y_test.tolist()) - set(classes))
            if unknown:
                raise InputError(f"{test}: labels {', '.join(map(repr, unknown[:5]))} are not "
                                 f"among the classes of {train}: fix or remove those rows")
        shown = ", ".join(f"{k} {name}" for k, name in enumerate(classes))
        print(f"{train}: labels are names: {len(classes)} classes, numbered in alphabetical "
              f"order: {shown}")
        table = np.array(classes)
        return (np.searchsorted(table, y).astype(np.int64), None if y_test is None
                else np.searchsorted(table, y_test).astype(np.int64), classes)
    if y_test is not None and y_test.dtype.kind == "U":
        raise InputError(f"{test}: its labels are names, {train}'s are numbers: label both "
                         "files the same way")
    ones = (len(y) and y.min() >= 1 and y.max() == outputs
            and (y_test is None or not len(y_test) or (y_test.min() >= 1 and y_test.max() <= outputs)))
    if ones:
        print(f"{train}: labels run 1..{outputs}, with no 0, and LAYERS[-1] = {outputs}: read "
              f"as classes 0..{outputs - 1} (label - 1); every output shows them as 1..{outputs}")
        return (y - 1, None if y_test is None else y_test - 1,
                [str(k) for k in range(1, outputs + 1)])
    _label_range(train, y, outputs, note, lambda: reread("TRAIN_CSV"))
    _label_range(test, y_test, outputs, note, lambda: reread("TEST_CSV"))
    return y, y_test, None


def check_orientation(c, X, X_test):
    """Turn the files that TRANSPOSED names upright, and warn when the training and test
    images are transposed relative to each other (EMNIST's files against MNIST's)."""
    which = c.get("TRANSPOSED", "")
    if which in ("train", "both"):
        X = images.transposed(X)
    if which in ("test", "both"):
        X_test = images.transposed(X_test)
    if which:
        print(f"TRANSPOSED={which}: the images of "
              + {"train": c["TRAIN_CSV"], "test": c["TEST_CSV"]}.get(
                  which, f"{c['TRAIN_CSV']} and {c['TEST_CSV']}")
              + " turned over their diagonal (stored transposed, as EMNIST's are)")
    if len(X) and len(X_test):
        stored, turned = images.orientation(X, X_test)
        if turned >= 0.9 and turned > stored + 0.1:
            print(f"warning: {c['TRAIN_CSV']}'s images look transposed relative to "
                  f"{c['TEST_CSV']}'s (their mean images correlate {turned:.2f} with one "
                  f"transposed, {stored:.2f} as stored): EMNIST's files store each image "
                  "transposed; say which file is, e.g. --TRANSPOSED=train (or test, both, \"\")")
    return X, X_test


def class_balance(path, y, classes=None):
    """Print the share of each class when the classes are imbalanced (imbalance); returns
    whether it did."""
    ratio = diagnostics.imbalance(y)
    if not ratio:
        return False
    shares = ", ".join(f"{classes[k] if classes else k} {n / len(y):.1%}"
                       for k, n in enumerate(np.bincount(y)) if n)
    print(f"{path}: the classes are imbalanced (the largest has {ratio:.0f}x the rows of the "
          f"smallest): {shares}")
    return True


def scaled_shift(config, side):
    """MAX_SHIFT in proportion to the images' side, never more: floor(MAX_SHIFT * side / 28),
    so a 1-pixel shift of a 28x28 digit is none of an 8x8 or 14x14 one (where it cost 40
    and 4 points, issue 22) and 1 pixel of a 32x32 one."""
    return math.floor(config["MAX_SHIFT"] * side / 28)


def in_proportion(config, n_pixels):
    """A run's settings with MAX_SHIFT in proportion to the side of rows of n_pixels
    (scaled_shift), for augment.augmentation; the settings as they are for rows that are
    not square images."""
    shape = images.shape_of(n_pixels)
    return config if shape is None else {**config, "MAX_SHIFT": scaled_shift(config, shape[0])}


def load_data(c, entries, rng):
    """Load and check the training and test files of the settings c against the networks.

    c -- the settings dict (TRAIN_CSV, TEST_CSV, their TRAIN_LABELS and
    TEST_LABELS for IDX images, TRANSPOSED and VAL_FRACTION are read); each
    file may be in any form formats.load_images reads (a CSV, IDX, .npz, a
    folder of class folders), and one line says how it was read when not a
    standard CSV; entries -- (name, settings) of each network to train, e.g.
    [("LAYERS", c)]: their LAYERS and augmentation are checked against the
    files; rng holds out the validation rows. Returns a Split: (X_train,
    y_train, X_val, y_val, X_test, y_test), pixels uint8 (n, n_pixels),
    labels int64 (n,) (y_test None for a test file without labels), and
    .classes (class_names). Raises InputError.
    """
    archs = [(name, config["LAYERS"]) for name, config in entries]
    name, outputs = min(((k, a[-1]) for k, a in archs), key=lambda pair: pair[1])
    note = f" ({name}[-1] = {outputs}: the network has {outputs} classes)"
    X, y = _read(c, "TRAIN_CSV", outputs, note, "train")
    if y is None:
        raise InputError(f"{c['TRAIN_CSV']}: the training file needs labels: a column named "
                         "'label' in its header line (or, without a header line, labels first)")
    for name, arch in archs:
        if arch[0] != X.shape[1]:
            raise InputError(f"{c['TRAIN_CSV']}: has {X.shape[1]} pixel columns "
                             f"({images.describe(X.shape[1])}) but {name}[0] is {arch[0]}: "
                             f"set {name}[0]={X.shape[1]}")
    X_test, y_test = _read(c, "TEST_CSV", outputs, note, "test")
    if X_test.shape[1] != X.shape[1]:
        raise InputError(
            f"{c['TEST_CSV']}: has {X_test.shape[1]} pixel columns, {c['TRAIN_CSV']} has {X.shape[1]}"
        )

    def reread(key):
        formats.load_images(c[key], outputs - 1, note, role="train" if key == "TRAIN_CSV"
                            else "test", labels=c.get(key.replace("_CSV", "_LABELS"), ""),
                            report=lambda line: None)

    y, y_test, classes = class_names(c, y, y_test, outputs, note, reread)
    if images.shape_of(X.shape[1]):
        X, X_test = check_orientation(c, X, X_test)
    elif c.get("TRANSPOSED"):
        raise InputError(f"TRANSPOSED={c['TRANSPOSED']}: {c['TRAIN_CSV']}'s rows of "
                         f"{X.shape[1]} pixels are not square images: set TRANSPOSED=\"\"")
    shared = shared_rows(X, X_test)
    if shared:  # 70 ms for MNIST's 60,000 and 10,000 rows
        print(f"warning: {c['TEST_CSV']}: {shared} of its {len(X_test)} rows are also in "
              f"{c['TRAIN_CSV']}: the test accuracy will measure memory, not how the network "
              "reads digits it has never seen")
    looks = {path: looks_unlike_mnist(A) for path, A in ((c["TRAIN_CSV"], X),
                                                         (c["TEST_CSV"], X_test))}
    unlike = len({kind for kind, _ in looks.values()}) > 1  # the files are unlike each other
    for path, (kind, phrase) in looks.items():
        if kind == "light" and path == c["TRAIN_CSV"]:  # measured: 11.7% (10,000 rows, 5 epochs)
            phrase += ("; on pixels that are mostly 1 after scaling, the first steps kill most "
                       "ReLU units and the network may not learn at all")
        if kind:
            print(f"warning: {path}: {phrase}" + ("; the other file's are not: a network "
                                                  "trained on one reads the other poorly"
                                                  if unlike else ""))
    shape = images.shape_of(X.shape[1])
    if any(augmentation(config) for _, config in entries) and (shape is None or shape[1] != 1):
        raise InputError(f"{c['TRAIN_CSV']}: augmentation needs square grey images, "
                         f"not {images.describe(X.shape[1])}: set MAX_SHIFT=0 (and "
                         "MAX_ROTATE=0, MAX_SCALE=0, ELASTIC_ALPHA=0)")
    side = shape[0] if shape else 0
    for name, config in entries:
        where = "" if name == "LAYERS" else f"{name}: "
        shift = scaled_shift(config, side) if side else 0
        if shift != config["MAX_SHIFT"]:
            print(f"{where}MAX_SHIFT={config['MAX_SHIFT']} is for 28x28 images: {shift} pixel"
                  f"{'s' * (shift != 1)} on these {side}x{side} ones (in proportion to the side)")
        if shift and shift >= side:
            raise InputError(f"{where}MAX_SHIFT = {config['MAX_SHIFT']}: {shift} pixels on these "
                             f"{side}x{side} images shifts the whole image ({side} pixels) out of "
                             f"itself: set MAX_SHIFT={28 * (side - 1) // side} or less")
        if shift > 1 and 2 * shift >= side:
            print(f"warning: {where}MAX_SHIFT = {config['MAX_SHIFT']}: a shift of half the image "
                  f"({side // 2} pixels) or more can move the whole digit out of it")
    n_val = round(c["VAL_FRACTION"] * len(X))
    fewest = 2 if c.get("BATCH_NORM") else 1  # batch statistics need two rows
    if (c["VAL_FRACTION"] > 0 and n_val < 1) or len(X) - n_val < fewest:
        raise InputError(
            f"{c['TRAIN_CSV']}: {len(X)} row(s) are too few to hold out "
            f"VAL_FRACTION = {c['VAL_FRACTION']} and train on the rest"
            + (" (batch normalisation needs at least 2 training rows)" if fewest > 1 else "")
        )
    present = np.unique(y)
    if len(present) < 2:
        raise InputError(f"{c['TRAIN_CSV']}: every label is "
                         f"{classes[present[0]] if classes else present[0]}: a classifier needs "
                         "at least two classes to learn from")
    for name, arch in archs:
        if classes and arch[-1] > len(classes):
            print(f"warning: {'' if name == 'LAYERS' else name + ': '}LAYERS[-1] = {arch[-1]}, but "
                  f"{c['TRAIN_CSV']} has {len(classes)} classes: {arch[-1] - len(classes)} "
                  "output(s) can never be the right answer")
        if arch[-1] > present[-1] + 1 and not classes:
            where = "" if name == "LAYERS" else f"{name}: "
            print(f"warning: {where}LAYERS[-1] = {arch[-1]}, but the labels of {c['TRAIN_CSV']} go up "
                  f"to {present[-1]}: {arch[-1] - present[-1] - 1} output(s) can never be the "
                  "right answer")
    class_balance(c["TRAIN_CSV"], y, classes)
    if y_test is not None:
        missing = sorted(set(np.unique(y_test).tolist()) - set(present.tolist()))
        if missing:
            print(f"warning: {c['TEST_CSV']} has labels that {c['TRAIN_CSV']} never shows "
                  f"({', '.join(classes[k] if classes else str(k) for k in missing)}): the "
                  "network cannot learn them")
    split = Split(split_validation(X, y, c["VAL_FRACTION"], rng) + (X_test, y_test))
    split.classes = classes
    return split
