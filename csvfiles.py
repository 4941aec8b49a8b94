"""Reading a CSV of images: pandas' C reader straight to uint8, every cell checked, and the
line and column of the first bad cell named when a file is refused.

The layout (separator, header, index columns, label column) comes from
layouts.py; load_csv is the entry point.
"""

import contextlib
import csv
import io
import math
import re
import signal
import threading
import warnings

import numpy as np
import pandas as pd

import images
from errors import InputError
from layouts import (
    CELL_CHARS,
    READ_ERRORS,
    _quote,
    _sniff,
    _source,
    _square,
    _text_lines,
)


def _first_bad_cell(text, rows, top, whole, skip, layout):
    """The (row, column, reason) of the first bad cell of a block of rows, or None.

    text -- the block's lines as one string; rows -- the same rows split into
    fields; top -- the largest value allowed in each column; whole -- whether
    each column must hold whole numbers; skip -- whether each column goes
    unchecked (a row index). pandas' C reader parses a block of plain
    numbers at once; only a block that holds something else (text, an empty
    cell, 'nan') goes through the slower cell-by-cell path that can say
    which cell and why.
    """
    n_cols = len(top)
    try:
        dtype = {j: (str if skip[j] else np.float64) for j in range(n_cols)} if skip.any() \
            else np.float64
        frame = pd.read_csv(io.StringIO(text), header=None, dtype=dtype, na_filter=False,
                            sep=layout.sep, decimal=layout.decimal)
        if frame.shape != (len(rows), n_cols):
            raise ValueError("not the rows the csv module read")
        if skip.any():
            values = np.zeros(frame.shape)
            values[:, ~skip] = frame.iloc[:, ~skip].to_numpy(np.float64)
        else:
            values = frame.to_numpy(np.float64)
        empty = not_number = np.zeros(values.shape, dtype=bool)
    except (ValueError, TypeError, pd.errors.ParserError):
        cells = pd.Series(np.array(rows, dtype=str).ravel()).str.strip()
        if layout.decimal == ",":
            cells = cells.str.replace(",", ".", regex=False)
        shape = (len(rows), n_cols)
        values = pd.to_numeric(cells, errors="coerce").to_numpy(np.float64).reshape(shape).copy()
        spelled_nan = cells.str.lower().isin(["nan", "-nan", "+nan"]).to_numpy().reshape(shape)
        not_number = np.isnan(values) & ~spelled_nan & ~skip
        empty = (cells == "").to_numpy().reshape(shape) & ~skip
        values[:, skip] = 0
    with np.errstate(invalid="ignore"):
        checks = [
            (empty, "is empty"),
            (not_number, "is not a number"),
            (~np.isfinite(values), "is not finite"),
            ((values != np.round(values)) & whole, "is not a whole number"),
            ((values < 0) | (values > top), None),
        ]
    bad = np.logical_or.reduce([mask for mask, _ in checks])
    if not bad.any():
        return None
    row, col = divmod(int(np.argmax(bad.ravel())), bad.shape[1])
    reason = next(r for mask, r in checks if mask[row, col])
    return row, col, reason or f"is outside 0..{top[col]:g}"


class _SpaceReader:
    """Rows of fields separated by runs of spaces, counting lines like csv.reader."""

    def __init__(self, lines):
        self.lines, self.line_num = lines, 0

    def __iter__(self):
        return self

    def __next__(self):
        line = next(self.lines)
        self.line_num += 1
        return [cell.strip('"') for cell in line.split()]


def _locate_bad_cell(path, layout, label_max, label_note="", unit=False):
    """Find the first malformed row or cell of a CSV and raise InputError for it.

    Only called when the fast reader has refused the file, or its values
    failed a check. The csv module reads it in blocks of 2,000 rows,
    checking each row's width and quoting (a field holding a line break
    means a quote was never closed); each block's cells are then checked at
    once. Blank lines are skipped, as pandas skips them. unit -- the pixels
    are fractions 0..1 (else whole numbers 0..255).
    """
    raw = []  # the lines the reader has taken since the last block

    def lines_read():
        for line in _text_lines(path):
            raw.append(line)
            yield line

    lines = lines_read()
    for _ in range(layout.skip):
        next(lines, None)
    raw.clear()
    reader = (_SpaceReader(lines) if layout.sep == r"\s+"
              else csv.reader(lines, delimiter=layout.sep))
    n_cols = layout.n_cols
    columns = np.arange(n_cols)
    label = columns == layout.label
    skip = (columns < layout.index) | (columns >= layout.end) | (label & layout.named)
    top = np.where(label, label_max, 1 if unit else 255).astype(np.float64)
    top[skip] = np.inf
    whole = label | (not unit)
    pixel_note = (" (this file's pixels are fractions 0..1)" if unit
                  else " (pixels are whole numbers 0..255)")
    rows, lines_of_rows = [], []  # a block of rows, and the file line each starts on
    while True:
        start = layout.skip + reader.line_num + 1
        try:
            row = next(reader, None)
        except csv.Error:  # a quote never closed swallows the file until the field limit
            raise InputError(f"{path}: line {start}: a quote is never closed") from None
        joined = ",".join(row) if row else ""
        if "\n" in joined or "\r" in joined:  # a field spanning lines
            raise InputError(f"{path}: line {start}: a quote is never closed")
        if row and len(row) != n_cols:
            raise InputError(f"{path}: line {start} has {len(row)} fields, {layout.width_note}")
        if row:
            rows.append(row)
            lines_of_rows.append(start)
        if rows and (row is None or len(rows) == 2000):
            found = _first_bad_cell("".join(raw), rows, top, whole, skip, layout)
            if found:
                i, j, reason = found
                kind = "label" if label[j] else "pixel"
                note = label_note if label[j] else pixel_note
                raise InputError(f"{path}: line {lines_of_rows[i]}, column {j + 1} "
                                 f"({layout.names[j][:CELL_CHARS]}): "
                                 f"{kind} {_quote(rows[i][j])} {reason}{note}")
            rows, lines_of_rows = [], []
            raw.clear()
        if row is None:
            raise InputError(f"{path}: could not be read as a CSV of numbers")


def _parse(path, layout, dtype):
    """Parse the rows with pandas' C reader, in chunks of 10,000 rows, as dtype.

    Returns a list of arrays, one per chunk, of the columns of values (index
    and empty columns left out). Raises what pandas raises (ValueError for a
    cell that is not of dtype, ParserError for a row of the wrong width, or
    when all are as wide as each other but not as the layout says), and
    turns warnings into errors: a row with extra fields is a warning to
    pandas.
    Reading straight to uint8 is faster than int64 and reading in chunks cuts
    the peak memory of loading train.csv from 454 MB (one uint8 read; 918 MB
    as int64) to 178 MB (the parser's buffers), for 0.4 s more
    (benchmarks/parts.py).
    """
    named = layout.label if layout.named else None  # the column of labels that are names
    ignored = layout.index or layout.end < layout.n_cols or named is not None
    types = {j: (dtype if layout.index <= j < layout.end and j != named else str)
             for j in range(layout.n_cols)}
    layout.label_names = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # A header on line 1 as wide as the rows is pandas' header=0, 10-20% faster
        # than skipping it; a row wider than the header is then a ParserWarning.
        where = ({"header": 0} if layout.skip == 1 and layout.header_line
                 else {"header": None, "skiprows": layout.skip})
        chunks = []
        with _source(path) as f, pd.read_csv(f, sep=layout.sep, decimal=layout.decimal, **where,
                                      dtype=types if ignored else dtype, compression=None,
                                      index_col=False, encoding="utf-8-sig",
                                      chunksize=10_000) as reader:
            for chunk in reader:
                if chunk.shape[1] != layout.n_cols:  # every row one field too many, say
                    raise pd.errors.ParserError(f"{chunk.shape[1]} columns, not {layout.n_cols}")
                if named is not None:  # kept apart; the column itself becomes 0s
                    layout.label_names.append(chunk.iloc[:, named].fillna("").astype(str)
                                              .str.strip().to_numpy(str))
                    chunk.isetitem(named, np.zeros(len(chunk), dtype))
                chunks.append(chunk.iloc[:, layout.index:layout.end].to_numpy() if ignored
                              else chunk.to_numpy())
        return chunks


@contextlib.contextmanager
def _noticing_ctrl_c():
    """Yield a list that gets an item if Ctrl-C is pressed inside the block.

    Ctrl-C raises KeyboardInterrupt in the file's read() that pandas' C
    reader calls, and pandas turns that into a ParserError ("Calling
    read(nbytes) on source failed"): without this the interrupt would be
    taken for a bad file. Only where Ctrl-C raises KeyboardInterrupt as
    usual (the main thread, Python's own handler in place).
    """
    seen = []
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield seen
        return

    def interrupt(signum, frame):
        seen.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _parse_or_locate(path, layout, dtype, label_max, label_note):
    """_parse, or when pandas refuses the file, the InputError that names its first bad cell.

    In a file of whole numbers (dtype uint8) a bad cell (text, empty, a
    fraction, a value past 255) goes straight to _locate_bad_cell, without a
    second full parse.
    """
    with _noticing_ctrl_c() as ctrl_c:
        try:
            return _parse(path, layout, dtype)
        except (ValueError, Warning):  # ParserError is a ValueError, ParserWarning a Warning
            if ctrl_c:
                raise KeyboardInterrupt from None
        except READ_ERRORS as e:
            raise InputError(f"{path}: cannot be read ({e})") from None
    _locate_bad_cell(path, layout, label_max, label_note)
    raise AssertionError("not reached: _locate_bad_cell always raises")


def _column_stats(chunks):
    """Per value column: min, max, the count of non-whole cells and of cells above 1.

    Also the count of cells that are not finite (NaN, an empty cell, inf).
    """
    stats = {"min": [], "max": [], "fraction": [], "above_1": [], "nonfinite": 0}
    for A in chunks:
        if A.dtype == np.uint8:
            stats["min"].append(A.min(axis=0))
            stats["max"].append(A.max(axis=0))
            continue
        finite = np.isfinite(A)
        stats["nonfinite"] += int(A.size - np.count_nonzero(finite))
        A = np.where(finite, A, 0.0)
        stats["min"].append(A.min(axis=0))
        stats["max"].append(A.max(axis=0))
        stats["fraction"].append(np.count_nonzero(A != np.round(A), axis=0))
        stats["above_1"].append(np.count_nonzero(A > 1, axis=0))
    out = {k: np.max(v, axis=0) if k == "max" else np.min(v, axis=0) if k == "min"
           else np.sum(v, axis=0) if v else 0 for k, v in stats.items() if k != "nonfinite"}
    out["nonfinite"] = stats["nonfinite"]
    return out


def _pixel_positions(names):
    """Where each named pixel column belongs in the image (row-major), or None.

    names -- the header's names of the pixel columns, in file order. Names
    holding one number each ('pixel0'..'pixel783', Kaggle's; 'p1'..'p784')
    give the position, from 0 or 1; names holding two ('1x1'..'28x28', the
    "MNIST in CSV" files) give a row, then a column. Returns an int array
    (the position of each column) when the numbers cover every pixel once,
    else None: the names then say nothing of the order.
    """
    numbers = [re.findall(r"\d+", name) for name in names]
    if all(len(k) == 1 for k in numbers):
        positions = np.array([int(k[0]) for k in numbers])
    elif all(len(k) == 2 for k in numbers) and _square(len(names)):
        rows, cols = np.array(numbers, dtype=np.int64).T
        positions = (rows - rows.min()) * math.isqrt(len(names)) + cols - cols.min()
    else:
        return None
    positions = positions - positions.min(initial=0)
    if not np.array_equal(np.sort(positions), np.arange(len(names))):
        return None
    return positions


def load_csv(path, label_max=255, label_note="", report=print):
    """Load an MNIST-style CSV into compact arrays, checking every cell.

    The standard file has a header line, then one image per line: an
    optional `label` column first, then the pixels as whole numbers 0..255,
    separated by commas. The other layouts people save are read too, and
    said in one line through report: no header line (785 columns: a label
    first, or last when the first column is all 0; 784: pixels only), a
    row-index column (pandas' to_csv, R's write.csv), the label column
    elsewhere or named class/target, ';', tab, '|' or space separators,
    decimal commas, pixels as fractions 0..1 or as 0 and 1 only (scaled to
    0..255), compressed files (.gz, .bz2, .xz, .zip); see _layout. The
    pixels stay uint8 (a quarter of float32's memory) until a batch needs
    them.

    path       -- the CSV file
    label_max  -- the largest label allowed (the number of classes - 1)
    label_note -- added to a label's error, e.g. to say where label_max comes from
    report     -- called with one line when the layout is not the standard one
    Returns (X, y): X the pixels, uint8 of shape (n, n_pixels); y the labels,
    int64 of shape (n,), or None when the file has no label column.
    Raises InputError naming the file, line and column of the first problem.
    """
    layout = _sniff(path, label_max)
    if layout.decimals:  # 0.0..255.0, or fractions 0..1: both readings kept, as uint8
        values = _parse_or_locate(path, layout, np.float64, label_max, label_note)
        stats = _column_stats(values)
        whole = [np.rint(np.clip(np.nan_to_num(A), 0, 255)).astype(np.uint8) for A in values]
        unit = [np.rint(np.clip(np.nan_to_num(A), 0, 1) * 255).astype(np.uint8) for A in values]
        del values
    else:
        whole, unit = _parse_or_locate(path, layout, np.uint8, label_max, label_note), None
    if layout.first_row is not None:  # line 1, a row pandas had taken for column names
        row = np.array([int(v) for v in layout.first_row[layout.index:layout.end]])
        if row.max() > 255:
            raise InputError(f"{path}: line 1: value {row.max()} is outside 0..255")
        whole.insert(0, row[None, :].astype(np.uint8))
        if unit is not None:
            unit.insert(0, np.rint(np.clip(row, 0, 1) * 255)[None, :].astype(np.uint8))
    if sum(len(A) for A in whole) == 0:
        raise InputError(f"{path}: has a header line but no rows")
    if unit is None:
        stats = _column_stats(whole)
    label = None if layout.label is None else layout.label - layout.index
    last = layout.end - layout.index - 1
    if (layout.guessed and not layout.named and stats["max"][label] == 0
            and stats["min"][last] < stats["max"][last] <= label_max
            and not np.any(stats["fraction"][last] if unit is not None else 0)):
        # no names, and the first column is all 0 while the last one varies
        # within the labels: the label is last (MNIST's corner pixels are all 0)
        layout.label, label = layout.index + last, last
        layout.name_columns()
        layout.notes[-1] = (f"column {layout.label + 1} read as the label (the first column "
                            "is all 0, the last holds labels)")
    pixels = np.ones(last + 1, dtype=bool)
    if label is not None:
        pixels[label] = False
    fraction = np.sum(stats["fraction"][pixels]) if unit is not None else 0
    above_1 = np.sum(stats["above_1"][pixels]) if unit is not None else 0
    pixel_max = stats["max"][pixels].max(initial=0)
    bad = (stats["nonfinite"] or stats["min"].min() < 0 or pixel_max > 255
           or (fraction and pixel_max > 1))
    if label is not None:
        bad = bad or stats["max"][label] > label_max or (
            unit is not None and stats["fraction"][label])
    if bad:
        _locate_bad_cell(path, layout, label_max, label_note, unit=fraction > above_1)
    if fraction or pixel_max == 1:  # fractions 0..1 (or 0 and 1 only): scale to 0..255
        layout.notes.append("pixels 0..1 scaled to 0..255" if fraction
                            else "pixels are 0 and 1 only: read as 0 and 255")
        chosen = unit if unit is not None else [A * np.uint8(255) for A in whole]
    else:
        chosen = whole
        if pixel_max == 0:
            layout.notes.append("every pixel is 0")
    if pixels.all():
        X = np.concatenate(chosen)
    elif label == 0:
        X = np.concatenate([A[:, 1:] for A in chosen])
    else:
        X = np.concatenate([A[:, pixels] for A in chosen])
    y = None if label is None else np.concatenate([A[:, label] for A in whole]).astype(np.int64)
    if layout.named:
        y = np.concatenate([*([layout.first_row[layout.label]] if layout.first_row else []),
                            *layout.label_names])
        if not np.all(y != ""):
            row = int(np.argmax(y == ""))
            raise InputError(f"{path}: row {row + 1}: the label is empty (the labels of this "
                             "file are names: every row needs one)")
    if not fraction and 1 < pixel_max <= 16:  # scikit-learn's 8x8 digits are 0..16
        X = images.SCALE_16[X]
        layout.notes.append(f"pixels 0..16 (largest {pixel_max}) scaled to 0..255")
    del whole, unit, chosen
    if layout.names and not layout.guessed:  # a header: its names may order the pixels
        names = [n for j, n in enumerate(layout.names[layout.index:layout.end]) if pixels[j]]
        positions = _pixel_positions(names)
        if positions is not None and np.any(positions != np.arange(len(positions))):
            X = X[:, np.argsort(positions)]
            first, second = (names[k][:CELL_CHARS] for k in np.argsort(positions)[:2])
            layout.notes.append(f"pixel columns out of order: rearranged as their names "
                                f"say ({first}, {second}, ...)")
    if layout.notes:
        report(f"{path}: {'; '.join(layout.notes)}")
    return X, y


def row_ids(path):
    """The ids a CSV gives its rows in a leading column named id or ImageId, or None.

    Kaggle-style files number their images in such a column (28001, 28002,
    ... for a second part); load_csv ignores it as a row index, and the
    predictions should carry it. Returns (the column's name, a list of the
    ids as text), or None when there is no such column or it numbers the
    rows 1, 2, 3, ... as the predictions do anyway.
    """
    layout = _sniff(path, 255)
    if not (layout.index and layout.names and re.fullmatch(r"(image_?)?id", layout.names[0],
                                                           re.IGNORECASE)):
        return None
    with _source(path) as f:
        ids = pd.read_csv(f, sep=layout.sep, header=None, skiprows=layout.skip, usecols=[0],
                          dtype=str, compression=None, encoding="utf-8-sig").iloc[:, 0]
    ids = [text.strip() for text in ids.tolist()]
    if ids == [str(i) for i in range(1, len(ids) + 1)]:
        return None
    return layout.names[0], ids
