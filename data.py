"""The data: reading and checking MNIST-style CSV files, the validation split.

A CSV is read by pandas' C reader straight to uint8; only a file it refuses
is read again, more slowly, to name the line and column of the first bad
cell. Every problem with what the user brings (a file, a setting, a picture)
is an InputError: one line, and exit status 2.
"""

import bz2
import contextlib
import csv
import gzip
import io
import lzma
import math
import os
import re
import signal
import threading
import warnings
import zipfile
import zlib

import numpy as np
import pandas as pd

from augment import augmentation  # load_data checks what it needs

# ----------------------------------------------------------------------------
# errors


class InputError(Exception):
    """A problem with the user's input, reported as one line and exit status 2.

    The message names the file, and the line and column where that applies.
    """


# ----------------------------------------------------------------------------
# reading a CSV
#
# A CSV is read in three steps. _sniff decides the layout from the first
# lines alone (the separator, whether there is a header line, row-index
# columns, where the label is); pandas' C reader then parses every row
# (straight to uint8 for whole numbers, as float64 only for a file of
# decimals); and only a file that fails a check is read once more, by the
# csv module, to name the line and column of the first bad cell.

LABEL_NAMES = ("label", "labels", "class", "target", "digit", "y")  # what a label column is called
INDEX_NAME = re.compile(r"(|index|id|imageid|unnamed: \d+(\.\d+)?)", re.IGNORECASE)
DECIMAL_COMMA = re.compile(r"[-+]?\d*,\d+([eE][-+]?\d+)?")
SEPARATOR_NAMES = {"\t": "tab-separated", ";": "separated by ';'", "|": "separated by '|'",
                   r"\s+": "separated by spaces", ",": "separated by ','"}
SNIFF_LINES = 25  # the lines _sniff looks at: the header (if any) and the first rows
CELL_CHARS = 24  # the most of a cell (or column name) an error message quotes


def _quote(text):
    """A cell or name for an error message: stripped, cut to CELL_CHARS, in quotes."""
    text = text.strip()
    return repr(text if len(text) <= CELL_CHARS else text[:CELL_CHARS - 3] + "...")


MAGIC = ((b"\x1f\x8b", "gz"), (b"BZh", "bz2"), (b"\xfd7zXZ\x00", "xz"), (b"PK\x03\x04", "zip"))
SPREADSHEETS = (".xlsx", ".xlsm", ".xls", ".ods", ".numbers")


def no_such_file(path, kind="file"):
    """The InputError for a path that does not exist, with a hint when its name
    starts or ends with a space (a quoted path with a stray space)."""
    stray = path != path.strip() and os.path.exists(path.strip())
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), path)
    elsewhere = not os.path.isabs(path) and os.path.exists(here)  # run from another folder
    return InputError(f"{path}: no such {kind}"
                      + (f" (its name has a stray space; {path.strip()!r} exists)" if stray else "")
                      + (f" in the current folder, {os.getcwd()}; the project's copy is {here}"
                         if elsewhere else ""))


def packing(path):
    """How a file is compressed: 'gz', 'bz2', 'xz', 'zip', or '' for a plain file.

    Its name's ending decides, else its first bytes (a train.csv that is
    really gzip, as some downloads save it)."""
    ext = os.path.splitext(path.lower())[1].lstrip(".")
    if ext in ("gz", "bz2", "xz", "zip"):
        return ext
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError:
        return ""
    return next((kind for magic, kind in MAGIC if head.startswith(magic)), "")


@contextlib.contextmanager
def _open(path):
    """Open a file as bytes, decompressing gzip, bzip2, xz and one-file zip archives.

    The file is streamed, never read whole: looking at the first lines of a
    compressed train.csv costs no more than of a plain one. In a zip, the
    macOS Finder's extras (__MACOSX/, ._ files, .DS_Store) are ignored; an
    Excel workbook (itself a zip) is named as one.
    """
    kind = packing(path)
    if kind == "zip":
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "[Content_Types].xml" in names or any(n.startswith("xl/") for n in names):
                raise InputError(f"{path}: is an Excel workbook, not a CSV: save it as "
                                 "'CSV UTF-8' (File > Save As)")
            members = [m for m in names if not m.endswith("/") and not m.startswith("__MACOSX/")
                       and os.path.basename(m) not in (".DS_Store",)
                       and not os.path.basename(m).startswith("._")]
            if len(members) != 1:
                raise InputError(f"{path}: holds {len(members)} files; a .zip must hold one CSV")
            with archive.open(members[0]) as f:
                yield f
        return
    opener = {"gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}.get(kind, open)
    with opener(path, "rb") as f:
        yield f


def _source(path):
    """What pandas reads a file from: its path for a plain file (pandas opens it
    itself, its fastest way), else the decompressed stream of _open."""
    return _open(path) if packing(path) else contextlib.nullcontext(path)


READ_ERRORS = (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile, zlib.error)


def _text_lines(path):
    """Yield the lines of a file as text, failing on the first that is not UTF-8.

    A byte-order mark (as Excel writes) is dropped from the first line. A
    lone carriage return ends a line too, as it does for pandas' C reader
    (old Mac files), so line numbers agree with what an editor shows.
    """
    number = 0
    with _open(path) as f:
        for raw in f:
            for part in re.split(rb"(?<=\r)(?!\n)", raw) if b"\r" in raw else (raw,):
                if not part:
                    continue
                number += 1
                if number == 1 and (part[:2] in (b"\xff\xfe", b"\xfe\xff")
                                    or b"\x00" in part[:2]):  # with or without a BOM
                    raise InputError(f"{path}: is UTF-16 text (Excel's 'Unicode Text'); "
                                     "save it as 'CSV UTF-8' instead")
                if b"\x00" in part:
                    raise InputError(f"{path}: line {number} holds NUL bytes: not text, or a "
                                     "damaged copy (cut short while it was written?)")
                try:
                    yield part.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError:
                    raise InputError(f"{path}: line {number} is not UTF-8 text") from None


def _is_number(text, decimal="."):
    """Whether a string parses as a float (with decimal commas if decimal is ',')."""
    try:
        float(text.replace(",", ".") if decimal == "," else text)
        return True
    except ValueError:
        return False


def _splitter(sep):
    """A function that splits one line into stripped cells, as sep separates them."""
    if sep == r"\s+":
        return lambda line: [cell.strip('"') for cell in line.split()]
    def split(line):
        try:
            return [cell.strip() for cell in next(csv.reader([line], delimiter=sep), [])]
        except csv.Error:
            return line.split(sep)
    return split


def _square(n):
    """Whether n > 0 is a perfect square: the pixel count of a square image."""
    return n > 0 and math.isqrt(n) ** 2 == n


class Layout:
    """How a CSV is laid out: what _sniff found, and what load_csv needs to parse it.

    sep, decimal -- pandas' sep and decimal arguments
    skip         -- the lines before the first row (the header, a sep= line, comments)
    n_cols       -- the fields of a row, index columns included
    index        -- how many leading columns are a row index, ignored
    end          -- where the columns of values end: n_cols, or n_cols - 1 when
                    every line ends with a separator (an empty last column)
    label        -- the column of the labels (0-based, index columns counted), or None
    names        -- each column's name, for error messages
    guessed      -- the label's place comes from the widths alone (no names):
                    it may move to the last column once the data is seen
    header_line  -- the line before the rows names as many columns as a row has
    width_note   -- what a row's width is compared with, for error messages
    notes        -- what is not standard about the layout, to tell the user
    """

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def name_columns(self):
        """Names for a file without names: 'index', 'label', 'pixel0', 'pixel1', ..."""
        names, k = [], 0
        for j in range(self.n_cols):
            if j < self.index or j >= self.end or j == self.label:
                names.append("index" if j < self.index else "label" if j == self.label
                             else "empty")
            else:
                names.append(f"pixel{k}")
                k += 1
        self.names = names


def _counts_rows(cells, label_max):
    """Whether a column's first cells count up by one from 0 or 1 past label_max: a row index."""
    if len(cells) < 2 or not all(re.fullmatch(r"\d{1,9}", c) for c in cells):
        return False
    start = int(cells[0])
    return (start in (0, 1) and start + len(cells) - 1 > label_max
            and all(int(c) == start + j for j, c in enumerate(cells)))


def _numbers_columns(cells):
    """Whether cells are 0, 1, 2, ... (or 1, 2, 3, ...) beyond 255: pandas' names of
    unnamed columns, which no row of pixels can be."""
    if len(cells) < 2 or not all(re.fullmatch(r"\d{1,9}", c) for c in cells):
        return False
    start = int(cells[0])
    return (start in (0, 1) and start + len(cells) - 1 > 255
            and all(int(c) == start + j for j, c in enumerate(cells)))


def _is_header(cells, decimal):
    """Whether the cells of a first line are names: at least half of them are not
    numbers, or those that are not are names of labels or indexes (label,0,1,...), or
    they number the columns (0,1,2,... past 255); a leading empty cell is pandas'
    unnamed index. A line of numbers with a few bad cells is a row."""
    rest = cells[1:] if len(cells) > 1 and cells[0] == "" else cells
    words = [c for c in rest if not _is_number(c, decimal)]
    return (2 * len(words) >= len(rest) or _numbers_columns(rest) or (bool(words) and all(
        w.lower() in LABEL_NAMES or (w and INDEX_NAME.fullmatch(w)) for w in words)))


def _first_lines(path):
    """The (line number, text) of the first SNIFF_LINES non-blank lines of a file."""
    if not os.path.exists(path):
        raise no_such_file(path)
    if os.path.isdir(path):
        raise InputError(f"{path}: is a folder, not a CSV file")
    if not os.path.isfile(path):  # it is read twice: a pipe would hang or come empty
        raise InputError(f"{path}: is not a regular file (a pipe or a device): save it to "
                         "a file first")
    if path.lower().endswith(SPREADSHEETS):
        raise InputError(f"{path}: is a spreadsheet, not a CSV: save it as 'CSV UTF-8' "
                         "(File > Save As)")
    lines = []
    try:
        with contextlib.closing(_text_lines(path)) as text_lines:
            for number, text in enumerate(text_lines, start=1):
                if text.strip():
                    lines.append((number, text.rstrip("\r\n")))
                if len(lines) == SNIFF_LINES:
                    break
    except READ_ERRORS as e:
        raise InputError(f"{path}: cannot be read ({getattr(e, 'strerror', None) or e})") from None
    if not lines:
        raise InputError(f"{path}: is empty (expected a header line like label,pixel0,...)")
    return lines


def _sniff(path, label_max):
    """Decide the layout of a CSV from its first lines (see _layout), and whether its
    first rows write numbers as decimals (0.0, 0.5, 1e2) rather than whole numbers."""
    layout, rows = _layout(path, label_max)
    layout.decimals = any(_is_number(cell, layout.decimal) and not re.fullmatch(r"[-+]?\d+", cell)
                          for row in rows for cell in row[layout.index:layout.end])
    return layout


def _layout(path, label_max):
    """Decide the layout of a CSV from its first lines, before parsing it.

    The separator is the first of tab, ';', '|', ',' that the first line
    holds (else runs of spaces), or what an Excel 'sep=;' line says; decimal
    commas are taken when the separator is not a comma and a cell reads like
    0,5. The first line is a header when at least half its cells are not
    numbers, or its only words are names of labels or indexes (label,0,1,..),
    or it numbers the columns 0, 1, 2, ... past 255 (pandas' names for
    unnamed columns); a '# ' line before the rows that names as many columns
    is a header too (np.savetxt's header=). Leading columns named
    '' (pandas' unnamed index), 'Unnamed: 0', 'index', 'id' or 'ImageId', or
    one without a name over it (R's write.table) or that counts the rows
    from 0 or 1 past label_max, are a row index. The label is the column
    named one of LABEL_NAMES. A file without names has a label when its
    width is a square plus one (785 = 1 + 28 x 28), first (load_csv moves
    it last if the first column is all 0 and the last one varies within the
    labels), none when its width is a square (784), and is refused otherwise.
    Returns (layout, rows): a Layout, and the first rows split into cells.
    Raises InputError for a missing, empty or ambiguous file.
    """
    lines = _first_lines(path)
    notes, sep = [], None
    kind = packing(path)
    if kind and not path.lower().endswith("." + kind):
        notes.append(f"{ {'gz': 'gzip', 'bz2': 'bzip2'}.get(kind, kind)}-compressed, "
                     "though its name does not say so")
    given = re.fullmatch(r'\s*"?sep=(.)"?\s*', lines[0][1])
    if given:  # Excel's hint line: sep=;
        sep = given.group(1)
        lines = lines[1:]
    comments = []
    while lines and re.match(r"\s*#( |$)", lines[0][1]):
        comments.append(lines.pop(0)[1].strip()[1:].strip())
    if not lines:
        raise InputError(f"{path}: holds no rows (expected a header line like label,pixel0,...)")
    first = lines[0][1]
    if sep is None:
        sep = next((s for s in "\t;|," if s in first), r"\s+" if first.split()[1:] else ",")
    split = _splitter(sep)
    decimal = "," if sep != "," and any(DECIMAL_COMMA.fullmatch(cell) for _, line in lines
                                        for cell in split(line)) else "."
    if sep != ",":
        notes.append(SEPARATOR_NAMES.get(sep, f"separated by {sep!r}")
                     + (", with decimal commas" if decimal == "," else ""))
    cells = split(first)
    header = None
    if _is_header(cells, decimal):
        header, lines = cells, lines[1:]
    elif comments:
        named = split(comments.pop())
        if len(named) in (len(cells), len(cells) - 1) and _is_header(named, decimal):
            header = named
            notes.append("header line read from a '#' comment")
        else:
            comments.append(named)
    if comments:
        notes.append(f"{len(comments)} comment line{'s' * (len(comments) > 1)} skipped")
    if not lines:
        raise InputError(f"{path}: has a header line but no rows")
    rows = [split(line) for _, line in lines]
    first_column = [row[0] if row else "" for row in rows]
    layout = Layout(sep=sep, decimal=decimal, skip=lines[0][0] - 1, n_cols=len(rows[0]),
                    index=0, end=len(rows[0]), label=None, names=None, guessed=False,
                    notes=notes, header_line=False, decimals=False)
    ends_empty = len(rows[0]) > 2 and all(row and row[-1] == "" for row in rows)
    if header is not None:
        if len(rows[0]) == len(header) + 1 and (_counts_rows(first_column, label_max) or not any(
                _is_number(c, decimal) for c in first_column)):
            header = [""] + header  # R's write.table: no name over the row names
        elif len(rows[0]) == len(header):
            layout.header_line = True
        layout.n_cols = layout.end = len(header)
        layout.names = header
        layout.width_note = f"the header has {len(header)}"
        if ends_empty and header[-1] == "":  # every line ends with a separator
            layout.end -= 1
            notes.append("every line ends with a separator: the empty last column ignored")
        while layout.index < len(header) - 1 and INDEX_NAME.fullmatch(header[layout.index]):
            layout.index += 1
        if layout.index:
            notes.append(f"column{'s 1-' if layout.index > 1 else ' '}{layout.index} "
                         f"({', '.join(_quote(h) for h in header[:layout.index])}) "
                         "read as a row index and ignored")
        if _numbers_columns(header[layout.index:layout.end]):
            notes.append("columns named by number")
        else:
            labels = [j for j in range(layout.index, layout.end)
                      if header[j].lower() in LABEL_NAMES]
            if len(labels) > 1:
                a, b = labels[:2]
                raise InputError(f"{path}: line 1: columns {a + 1} ({_quote(header[a])}) and "
                                 f"{b + 1} ({_quote(header[b])}) could both be the label: "
                                 "rename or remove one")
            if labels:
                layout.label = labels[0]
                if labels[0] != layout.index:
                    notes.append(f"column {labels[0] + 1} ({_quote(header[labels[0]])}) "
                                 "read as the label")
            if layout.end - layout.index - len(labels) < 1:
                raise InputError(f"{path}: line 1: the header names no pixel columns")
            return layout, rows
    else:
        notes.append("no header line")
        layout.width_note = f"line {lines[0][0]} has {layout.n_cols}"
        if ends_empty:
            layout.end -= 1
            notes.append("every line ends with a separator: the empty last column ignored")
        width = layout.end
        if _counts_rows(first_column, label_max) or (
                _counts_rows(first_column, -1) and _square(width - 2) and not _square(width - 1)):
            layout.index = 1
            notes.append("column 1 counts the rows: read as a row index and ignored")
    # no names: the width says whether there is a label
    width = layout.end - layout.index
    if _square(width - 1) and not _square(width):
        layout.label, layout.guessed = layout.index, True
        side = math.isqrt(width - 1)
        notes.append(f"column {layout.index + 1} read as the label "
                     f"({width} columns: a label and {side}x{side} pixels)")
    elif _square(width) and not _square(width - 1):
        side = math.isqrt(width)
        notes.append(f"{width} columns read as {side}x{side} pixels, no labels")
    else:
        raise InputError(f"{path}: no column names, and {width} columns are not a square "
                         "image with or without a label: add a header line that names them "
                         "(label,pixel0,pixel1,...)")
    layout.name_columns()
    return layout, rows


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
    skip = (columns < layout.index) | (columns >= layout.end)
    top = np.where(label, label_max, 1 if unit else 255).astype(np.float64)
    top[skip] = np.inf
    whole = label | (not unit)
    pixel_note = (" (this file's pixels are fractions 0..1)" if unit
                  else " (pixels are whole numbers 0..255)")
    rows, lines_of_rows = [], []  # a block of rows, and the file line each starts on
    while True:
        start = layout.skip + reader.line_num + 1
        row = next(reader, None)
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
    ignored = layout.index or layout.end < layout.n_cols
    types = {j: (dtype if layout.index <= j < layout.end else str) for j in range(layout.n_cols)}
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
    if sum(len(A) for A in whole) == 0:
        raise InputError(f"{path}: has a header line but no rows")
    if unit is None:
        stats = _column_stats(whole)
    label = None if layout.label is None else layout.label - layout.index
    last = layout.end - layout.index - 1
    if (layout.guessed and stats["max"][label] == 0
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
