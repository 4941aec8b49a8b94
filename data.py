"""The data: the one entry point that loads the training and test files (load_data), checks
them against the networks to train, and holds out the validation rows.

The files themselves are read by csvfiles.py (CSVs, their layouts in
layouts.py). Every problem with what the user brings (a file, a setting, a
picture) is an InputError (errors.py): one line, and exit status 2.
"""

import math
import zlib

import numpy as np

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


def load_data(c, entries, rng):
    """Load and check both CSVs of the settings c against the networks to train.

    c -- the settings dict (TRAIN_CSV, TEST_CSV and VAL_FRACTION are read);
    entries -- (name, settings) of each network to train, e.g. [("LAYERS",
    c)]: their LAYERS and augmentation are checked against the files; rng
    holds out the validation rows. Returns (X_train, y_train, X_val,
    y_val, X_test, y_test): pixels uint8 (n, n_pixels), labels int64 (n,);
    y_test is None for a test file without labels. Raises InputError.
    """
    archs = [(name, config["LAYERS"]) for name, config in entries]
    name, outputs = min(((k, a[-1]) for k, a in archs), key=lambda pair: pair[1])
    note = f" ({name}[-1] = {outputs}: the network has {outputs} classes)"
    X, y = load_csv(c["TRAIN_CSV"], outputs - 1, note)
    if y is None:
        raise InputError(f"{c['TRAIN_CSV']}: the training file needs labels: a column named "
                         "'label' in its header line (or, without a header line, labels first)")
    for name, arch in archs:
        if arch[0] != X.shape[1]:
            raise InputError(
                f"{c['TRAIN_CSV']}: has {X.shape[1]} pixel columns but {name}[0] is {arch[0]}"
            )
    X_test, y_test = load_csv(c["TEST_CSV"], outputs - 1, note)
    if X_test.shape[1] != X.shape[1]:
        raise InputError(
            f"{c['TEST_CSV']}: has {X_test.shape[1]} pixel columns, {c['TRAIN_CSV']} has {X.shape[1]}"
        )
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
    side = math.isqrt(X.shape[1])
    if any(augmentation(config) for _, config in entries) and side * side != X.shape[1]:
        raise InputError(f"{c['TRAIN_CSV']}: augmentation needs square images, "
                         f"not {X.shape[1]} pixels: set MAX_SHIFT=0 (and MAX_ROTATE=0, "
                         "MAX_SCALE=0, ELASTIC_ALPHA=0)")
    for name, config in entries:
        where = "" if name == "LAYERS" else f"{name}: "
        shift = config["MAX_SHIFT"]
        if shift and shift >= side:
            raise InputError(f"{where}MAX_SHIFT = {shift}: shifts the whole image ({side} "
                             "pixels) out of itself")
        if shift > 1 and 2 * shift >= side:
            print(f"warning: {where}MAX_SHIFT = {shift}: a shift of half the image ({side // 2} "
                  "pixels) or more can move the whole digit out of it")
    n_val = round(c["VAL_FRACTION"] * len(X))
    fewest = 2 if c.get("BATCH_NORM") else 1  # batch statistics need two rows
    if (c["VAL_FRACTION"] > 0 and n_val < 1) or len(X) - n_val < fewest:
        raise InputError(
            f"{c['TRAIN_CSV']}: {len(X)} row(s) are too few to hold out "
            f"VAL_FRACTION = {c['VAL_FRACTION']} and train on the rest"
            + (" (batch normalisation needs at least 2 training rows)" if fewest > 1 else "")
        )
    classes = np.unique(y)
    if len(classes) < 2:
        raise InputError(f"{c['TRAIN_CSV']}: every label is {classes[0]}: a classifier needs "
                         "at least two classes to learn from")
    for name, arch in archs:
        if arch[-1] > classes[-1] + 1:
            where = "" if name == "LAYERS" else f"{name}: "
            print(f"warning: {where}LAYERS[-1] = {arch[-1]}, but the labels of {c['TRAIN_CSV']} go up "
                  f"to {classes[-1]}: {arch[-1] - classes[-1] - 1} output(s) can never be the "
                  "right answer")
    if y_test is not None:
        missing = sorted(set(np.unique(y_test).tolist()) - set(classes.tolist()))
        if missing:
            print(f"warning: {c['TEST_CSV']} has labels that {c['TRAIN_CSV']} never shows "
                  f"({', '.join(map(str, missing))}): the network cannot learn them")
    X_train, y_train, X_val, y_val = split_validation(X, y, c["VAL_FRACTION"], rng)
    return X_train, y_train, X_val, y_val, X_test, y_test
