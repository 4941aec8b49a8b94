"""How a CSV of images is laid out, found from its first lines: the separator, a header
line, row-index columns, where the label is; and opening it, compressed or not.

A CSV is read in three steps. _sniff (here) decides the layout from the first
lines alone; pandas' C reader then parses every row (csvfiles.py); and only a
file that fails a check is read once more, by the csv module, to name the
line and column of the first bad cell (csvfiles.py).
"""

import bz2
import contextlib
import csv
import gzip
import lzma
import math
import os
import re
import zipfile
import zlib

from errors import InputError, kind_of_bytes, no_such_file

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
                    kind = kind_of_bytes(part) if number == 1 else None
                    raise InputError(f"{path}: is {kind}, not a CSV" if kind else
                                     f"{path}: line {number} is not UTF-8 text") from None


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


def _unmangled(cells):
    """The cells of a first line that pandas' to_csv wrote from a DataFrame whose column
    names were its first data row, put back as that row; None when they are not.

    pandas renames repeated names: 0, 0.1, 0.2, ... for the second and third
    0 (the A-Z handwritten letters CSV starts so). Returns the values as text.
    """
    counts, restored = {}, []
    for cell in cells:
        found = re.fullmatch(r"(\d+)(?:\.(\d+))?", cell)
        if not found:
            return None
        base, suffix = found.groups()
        seen = counts.get(base, 0)
        if (suffix is None) != (seen == 0) or (suffix is not None and int(suffix) != seen):
            return None
        counts[base] = seen + 1
        restored.append(base)
    return restored if len(restored) > len(counts) else None


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
    label = layout.label
    words = [row[label] for row in rows if label is not None and len(row) > label
             and row[label] and not _is_number(row[label], layout.decimal)]
    layout.named = 2 * len(words) > len(rows)  # most labels are names (F, five, cat): all are
    layout.decimals = any(_is_number(cell, layout.decimal) and not re.fullmatch(r"[-+]?\d+", cell)
                          for row in rows for j, cell in enumerate(row[:layout.end])
                          if j >= layout.index and not (layout.named and j == label))
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
    first_number, first = lines[0]
    if sep is None:
        sep = next((s for s in "\t;|," if s in first), r"\s+" if first.split()[1:] else ",")
    split = _splitter(sep)
    decimal = "," if sep != "," and any(DECIMAL_COMMA.fullmatch(cell) for _, line in lines
                                        for cell in split(line)) else "."
    if sep != ",":
        notes.append(SEPARATOR_NAMES.get(sep, f"separated by {sep!r}")
                     + (", with decimal commas" if decimal == "," else ""))
    cells = split(first)
    header, layout_row = None, _unmangled(cells)
    if layout_row is not None and len(lines) > 1 and len(split(lines[1][1])) == len(cells):
        lines = lines[1:]
        notes.append(f"line {lines[0][0] - 1} is a row that pandas had taken for column names "
                     "(its repeated values renamed 0.1, 0.2, ...): read back as the first row")
    elif _is_header(cells, decimal):
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
                    notes=notes, header_line=False, decimals=False, first_row=layout_row,
                    named=False)
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
        if first.count('"') % 2:  # the csv module reads the rest of the line as one name
            layout.width_note += f" (a quote on line {first_number} is never closed)"
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
        if layout_row is None:
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
