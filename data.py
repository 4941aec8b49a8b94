"""The data: reading and checking MNIST-style CSV files, the validation split, augmentation.

A CSV is read by pandas' C reader straight to uint8; only a file it refuses
is read again, more slowly, to name the line and column of the first bad
cell. Every problem with what the user brings (a file, a setting, a picture)
is an InputError: one line, and exit status 2.
"""

import csv
import io
import math
import os
import warnings

import numpy as np
import pandas as pd

# ----------------------------------------------------------------------------
# errors


class InputError(Exception):
    """A problem with the user's input, reported as one line and exit status 2.

    The message names the file, and the line and column where that applies.
    """


# ----------------------------------------------------------------------------
# reading a CSV


def _text_lines(path):
    """Yield the lines of a file as text, failing on the first that is not UTF-8.

    A byte-order mark (as Excel writes) is dropped from the first line.
    """
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                raise InputError(f"{path}: line {number} is not UTF-8 text") from None


def _header(path):
    """Read and return the header line of a CSV as a list of stripped names."""
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a folder, not a CSV file")
    try:
        first = next(_text_lines(path), "")
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e.strerror})") from None
    if not first.strip():
        raise InputError(f"{path}: is empty (expected a header line like label,pixel0,...)")
    return [name.strip() for name in next(csv.reader([first]))]


def _is_number(text):
    """Whether a string parses as a float."""
    try:
        float(text)
        return True
    except ValueError:
        return False


def _first_bad_cell(text, rows, top):
    """The (row, column, reason) of the first bad cell of a block of rows, or None.

    text -- the block's lines as one string; rows -- the same rows split into
    fields; top -- the largest value allowed in each column. pandas' C reader
    parses a block of plain numbers at once; only a block that holds
    something else (text, an empty cell, 'nan') goes through the slower
    cell-by-cell path that can say which cell and why.
    """
    try:
        values = pd.read_csv(io.StringIO(text), header=None, dtype=np.float64,
                             na_filter=False).to_numpy()
        empty = not_number = np.zeros(values.shape, dtype=bool)
    except ValueError:
        cells = pd.Series(np.array(rows, dtype=str).ravel()).str.strip()
        shape = (len(rows), len(top))
        values = pd.to_numeric(cells, errors="coerce").to_numpy(np.float64).reshape(shape)
        spelled_nan = cells.str.lower().isin(["nan", "-nan", "+nan"]).to_numpy().reshape(shape)
        not_number = np.isnan(values) & ~spelled_nan
        empty = (cells == "").to_numpy().reshape(shape)
    with np.errstate(invalid="ignore"):
        checks = [
            (empty, "is empty"),
            (not_number, "is not a number"),
            (~np.isfinite(values), "is not finite"),
            (values != np.round(values), "is not a whole number"),
            ((values < 0) | (values > top), None),
        ]
    bad = np.logical_or.reduce([mask for mask, _ in checks])
    if not bad.any():
        return None
    row, col = divmod(int(np.argmax(bad.ravel())), bad.shape[1])
    reason = next(r for mask, r in checks if mask[row, col])
    return row, col, reason or f"is outside 0..{top[col]:.0f}"


def _locate_bad_cell(path, n_cols, pixel_start, label_max, label_note=""):
    """Find the first malformed row or cell of a CSV and raise InputError for it.

    Only called when the fast reader has refused the file. The csv module
    reads it in blocks of 2,000 rows, checking each row's width and quoting
    (a field holding a line break means a quote was never closed); each
    block's cells are then checked at once. Blank lines are skipped, as
    pandas skips them.
    """
    raw = []  # the lines the csv reader has taken since the last block

    def lines_read():
        for line in _text_lines(path):
            raw.append(line)
            yield line

    reader = csv.reader(lines_read())
    names = [name.strip() for name in next(reader)]
    raw.clear()
    top = np.array([label_max] * pixel_start + [255] * (n_cols - pixel_start), dtype=np.float64)
    rows, lines = [], []  # a block of rows, and the file line each starts on
    while True:
        start = reader.line_num + 1
        row = next(reader, None)
        joined = ",".join(row) if row else ""
        if "\n" in joined or "\r" in joined:  # a field spanning lines
            raise InputError(f"{path}: line {start}: a quote is never closed")
        if row and len(row) != n_cols:
            raise InputError(f"{path}: line {start} has {len(row)} fields, the header has {n_cols}")
        if row:
            rows.append(row)
            lines.append(start)
        if rows and (row is None or len(rows) == 2000):
            found = _first_bad_cell("".join(raw), rows, top)
            if found:
                i, j, reason = found
                kind = "label" if j < pixel_start else "pixel"
                note = label_note if kind == "label" else " (pixels are whole numbers 0..255)"
                raise InputError(f"{path}: line {lines[i]}, column {j + 1} ({names[j]}): "
                                 f"{kind} {rows[i][j].strip()!r} {reason}{note}")
            rows, lines = [], []
            raw.clear()
        if row is None:
            raise InputError(f"{path}: could not be read as a CSV of whole numbers")


def load_csv(path, label_max=255, label_note=""):
    """Load an MNIST-style CSV into compact arrays, checking every cell.

    The file has a header line, then one image per line: an optional `label`
    column first, then the pixels as whole numbers 0..255. The pixels stay
    uint8 (a quarter of float32's memory) until a batch needs them.

    path       -- the CSV file
    label_max  -- the largest label allowed (the number of classes - 1)
    label_note -- added to a label's error, e.g. to say where label_max comes from
    Returns (X, y): X the pixels, uint8 of shape (n, n_pixels); y the labels,
    int64 of shape (n,), or None when the file has no `label` column.
    Raises InputError naming the file, line and column of the first problem.
    """
    names = _header(path)
    lowered = [name.lower() for name in names]
    has_label = lowered[0] == "label"
    if "label" in lowered[1:]:
        raise InputError(
            f"{path}: line 1, column {lowered.index('label') + 1}: "
            "the 'label' column must come first"
        )
    if _is_number(names[0]):
        raise InputError(
            f"{path}: line 1 holds numbers, not a header (expected label,pixel0,...)"
        )
    pixel_start = 1 if has_label else 0
    if len(names) <= pixel_start:
        raise InputError(f"{path}: line 1: the header names no pixel columns")
    try:
        # The fast path: pandas' C reader refuses anything that is not a whole
        # number in 0..255 (text, NaN, inf, fractions, negatives, > 255,
        # missing cells), and with warnings as errors, rows with extra fields.
        # Reading straight to uint8 is 2.8x faster than int64; reading in
        # chunks of 10,000 rows costs no time and cuts the peak memory of
        # loading train.csv from 450 MB to 170 MB (the parser's buffers).
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            chunks = [chunk.to_numpy() for chunk in pd.read_csv(
                path, dtype=np.uint8, index_col=False, encoding="utf-8-sig", chunksize=10_000)]
    except (ValueError, pd.errors.ParserError, Warning):
        _locate_bad_cell(path, len(names), pixel_start, label_max, label_note)
        raise  # not reached: _locate_bad_cell always raises
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e})") from None
    if any(chunk.shape[1] != len(names) for chunk in chunks):
        _locate_bad_cell(path, len(names), pixel_start, label_max, label_note)
    if sum(len(chunk) for chunk in chunks) == 0:
        raise InputError(f"{path}: has a header line but no rows")
    X = np.concatenate([chunk[:, pixel_start:] for chunk in chunks])
    y = np.concatenate([chunk[:, 0] for chunk in chunks]).astype(np.int64) if has_label else None
    del chunks
    if y is not None and y.max() > label_max:
        _locate_bad_cell(path, len(names), pixel_start, label_max, label_note)
    return X, y


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
        raise InputError(f"{c['TRAIN_CSV']}: line 1: the training file needs a 'label' column")
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
    side = math.isqrt(X.shape[1])
    if any(augmentation(config) for _, config in entries) and side * side != X.shape[1]:
        raise InputError(f"{c['TRAIN_CSV']}: augmentation needs square images, "
                         f"not {X.shape[1]} pixels")
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
    if y_test is not None:
        missing = sorted(set(np.unique(y_test).tolist()) - set(classes.tolist()))
        if missing:
            print(f"warning: {c['TEST_CSV']} has labels that {c['TRAIN_CSV']} never shows "
                  f"({', '.join(map(str, missing))}): the network cannot learn them")
    X_train, y_train, X_val, y_val = split_validation(X, y, c["VAL_FRACTION"], rng)
    return X_train, y_train, X_val, y_val, X_test, y_test


# ----------------------------------------------------------------------------
# augmentation


def random_shift(X, max_shift, rng):
    """Shift each square image by up to max_shift pixels in x and y, padding with 0.

    Shifted copies of the training digits teach the network that a digit a
    pixel or two off centre is the same digit (Simard et al. 2003 report the
    gain from such distortions). Works on any dtype; keeps shape and dtype.

    X         -- a batch of flattened square images, shape (n, side * side)
    max_shift -- the largest shift in pixels; 0 returns X unchanged
    """
    if max_shift == 0:
        return X
    n, n_pixels = X.shape
    side = math.isqrt(n_pixels)
    k = max_shift
    width = side + 2 * k  # the images framed by k rows and columns of zeros
    padded = np.zeros((n, width, width), dtype=X.dtype)
    padded[:, k:k + side, k:k + side] = X.reshape(n, side, side)
    dy, dx = rng.integers(0, 2 * k + 1, size=(2, n))
    grid = (np.arange(side)[:, None] * width + np.arange(side)[None, :]).ravel()
    # one flat gather: each image's window starts dy rows and dx columns into its frame
    start = np.arange(n) * width * width + dy * width + dx
    return padded.ravel()[start[:, None] + grid[None, :]]


def random_affine(X, max_shift, max_degrees, max_scale, rng):
    """Rotate, scale and shift each square image by a small random amount.

    Each output pixel samples the input, bilinearly, at the point the inverse
    transform maps it to; points outside the image read 0. Rotations of up to
    about 15 degrees and scalings of 10-20% are the affine distortions that
    Simard et al. 2003 and Ciresan et al. 2010 train with. Keeps shape and
    dtype (uint8 results are rounded); all three limits 0 return X unchanged.

    X           -- a batch of flattened square images, shape (n, side * side)
    max_shift   -- the largest shift in pixels (drawn uniformly, not whole)
    max_degrees -- the largest rotation either way, in degrees
    max_scale   -- the largest relative change of size, e.g. 0.1 for 90%..110%
    """
    if not (max_shift or max_degrees or max_scale):
        return X
    n, n_pixels = X.shape
    side = math.isqrt(n_pixels)
    centre = (side - 1) / 2
    f32 = np.float32
    angle = np.radians(rng.uniform(-max_degrees, max_degrees, n)).astype(f32)[:, None, None]
    scale = rng.uniform(1 - max_scale, 1 + max_scale, n).astype(f32)[:, None, None]
    shift_y, shift_x = rng.uniform(-max_shift, max_shift, (2, n, 1, 1)).astype(f32)
    grid = np.arange(side, dtype=f32) - f32(centre)
    out_y, out_x = grid[None, :, None] - shift_y, grid[None, None, :] - shift_x
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    # the inverse rotation and scaling; points beyond the image clip to its zero border
    src_y = np.clip(centre + cos * out_y - sin * out_x, -1, side)
    src_x = np.clip(centre + sin * out_y + cos * out_x, -1, side)
    y0, x0 = np.floor(src_y), np.floor(src_x)
    fy, fx = src_y - y0, src_x - x0
    width = side + 3  # one row and column of zeros before the image, two after
    padded = np.zeros((n, width, width), dtype=f32)
    padded[:, 1:side + 1, 1:side + 1] = X.reshape(n, side, side)
    flat = padded.ravel()
    corner = ((np.arange(n)[:, None, None] * width + y0.astype(np.intp) + 1) * width
              + x0.astype(np.intp) + 1)  # the top-left neighbour of each point, in flat
    top = flat[corner] + fx * (flat[corner + 1] - flat[corner])
    bottom = flat[corner + width] + fx * (flat[corner + width + 1] - flat[corner + width])
    out = top + fy * (bottom - top)
    out = out.reshape(n, n_pixels)
    if X.dtype == np.uint8:
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return out.astype(X.dtype)




def augmentation(c):
    """The augmentation the settings c ask for, as a function (X, rng) -> X, or None.

    Whole-pixel shifts alone (MAX_SHIFT) take the cheap exact path;
    rotations or scalings (MAX_ROTATE, MAX_SCALE) take the bilinear affine one.
    """
    if c["MAX_ROTATE"] or c["MAX_SCALE"]:
        return lambda X, rng: random_affine(X, c["MAX_SHIFT"], c["MAX_ROTATE"],
                                            c["MAX_SCALE"], rng)
    if c["MAX_SHIFT"]:
        return lambda X, rng: random_shift(X, c["MAX_SHIFT"], rng)
    return None
