"""data.py: loading CSVs (exact values, a byte-order mark, every layout people save read back
exactly from the same MNIST rows with one line saying how, the layouts that cannot be read,
random files in random layouts, good or broken) and the shipped MNIST files (augmentation
is in test_augment.py).

The table of bad inputs that the program reports in one line with exit status 2,
many of them bad CSVs that data.load_csv finds, runs main.py as a whole: it is
in test_main.py.
"""

import csv
import gzip
import hashlib
import os
import re
import signal
import tempfile
import time
import warnings
import zipfile

import hypothesis
import numpy as np
import pandas as pd
import pytest
from helpers import csv_text, table
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

import csvfiles
import data
import images

# ----------------------------------------------------------------------------
# loading CSVs


def test_csv_with_a_utf8_byte_order_mark_keeps_its_label_column(tmp_path):
    """Spreadsheets save CSVs with a BOM; the label column must still be the label."""
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + csv_text(table(5)).encode())
    X, y = data.load_csv(str(path), 9)
    assert X.shape == (5, 4)
    assert y is not None
    assert y.tolist() == [0, 1, 2, 3, 4]


# ----------------------------------------------------------------------------
# the layouts people save: each is written from the same 30 MNIST rows and must
# read back exactly, with one line that says how it was read


@pytest.fixture(scope="module")
def rows30(mnist_small):
    """The first 30 rows of train.csv as (X uint8, y int64) and as a pandas DataFrame."""
    X, y = mnist_small[0][:30].copy(), mnist_small[1][:30].copy()
    frame = pd.DataFrame(X, columns=[f"pixel{j}" for j in range(784)])
    frame.insert(0, "label", y)
    return X, y, frame


def unit_frame(frame):
    """The frame with its pixels as fractions 0..1."""
    return pd.concat([frame[["label"]], frame.iloc[:, 1:] / 255], axis=1)


def label_moved(frame, position, name="label"):
    """The frame with its label column moved to `position` and renamed."""
    columns = list(frame.columns[1:])
    columns.insert(position, "label")
    return frame[columns].rename(columns={"label": name})


def r_write_table(frame, path):
    """What R's write.table(frame, path) writes: quoted names, no name over the row names."""
    lines = [" ".join(f'"{c}"' for c in frame.columns)]
    lines += [f'"{i}" ' + " ".join(map(str, row)) for i, row in enumerate(frame.to_numpy(), 1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def r_write_csv(frame, path):
    """What R's write.csv(frame, path) writes: "" over the quoted row names."""
    lines = [",".join(['""'] + [f'"{c}"' for c in frame.columns])]
    lines += [f'"{i}",' + ",".join(map(str, row)) for i, row in enumerate(frame.to_numpy(), 1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def shuffled_columns(frame, path):
    """The pixel columns in a random order, each still under its own name."""
    order = np.random.default_rng(3).permutation(784)
    frame[["label", *(f"pixel{j}" for j in order)]].to_csv(path, index=False)


def column_major_named(frame, path):
    """The "MNIST in CSV" names (row x column, from 1), the pixels written column by column."""
    pixels = frame.iloc[:, 1:].to_numpy().reshape(-1, 28, 28).transpose(0, 2, 1).reshape(-1, 784)
    names = [f"{r}x{c}" for c in range(1, 29) for r in range(1, 29)]
    pd.concat([frame[["label"]], pd.DataFrame(pixels, columns=names)], axis=1).to_csv(
        path, index=False)


def gzip_under_a_csv_name(frame, path):
    path.write_bytes(gzip.compress(frame.to_csv(index=False).encode()))


def macos_zip(frame, path):
    """A zip made by the macOS Finder: the CSV, and resource forks under __MACOSX/."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("digits/a.csv", frame.to_csv(index=False))
        archive.writestr("__MACOSX/digits/._a.csv", b"\x00\x05\x16\x07junk")
        archive.writestr("digits/.DS_Store", b"\x00\x00\x00\x01Bud1")


def excel_workbook(frame, path):
    """What an .xlsx is inside: a zip of XML parts."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")


def two_files_zip(frame, path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("train.csv", frame.to_csv(index=False))
        archive.writestr("test.csv", frame.to_csv(index=False))


# (id, file name, how to write it from the frame, labelled, texts the one note line holds)
LAYOUTS = [
    ("standard", "a.csv", lambda f, p: f.to_csv(p, index=False), True, None),
    ("no-header", "a.csv", lambda f, p: f.to_csv(p, index=False, header=False), True,
     ["no header line", "column 1 read as the label"]),
    ("no-header-savetxt", "a.csv",
     lambda f, p: np.savetxt(p, f.to_numpy(), fmt="%d", delimiter=","), True,
     ["no header line", "column 1 read as the label"]),
    ("no-header-pixels-only", "a.csv",
     lambda f, p: f.iloc[:, 1:].to_csv(p, index=False, header=False), False,
     ["no header line", "784 columns read as 28x28 pixels, no labels"]),
    ("no-header-label-last", "a.csv",
     lambda f, p: label_moved(f, 784).to_csv(p, index=False, header=False), True,
     ["no header line", "column 785 read as the label"]),
    ("no-header-with-index", "a.csv", lambda f, p: f.to_csv(p, header=False), True,
     ["column 1 counts the rows", "column 2 read as the label"]),
    ("pandas-index", "a.csv", lambda f, p: f.to_csv(p), True, ["row index"]),
    ("pandas-index-saved-twice", "a.csv",
     lambda f, p: f.rename_axis("Unnamed: 0").reset_index().to_csv(p), True,
     ["columns 1-2", "row index"]),
    ("numbered-columns", "a.csv",
     lambda f, p: pd.DataFrame(f.to_numpy()).to_csv(p, index=False), True,
     ["columns named by number", "column 1 read as the label"]),
    ("numbered-pixels-with-index", "a.csv",
     lambda f, p: pd.DataFrame(f.iloc[:, 1:].to_numpy()).to_csv(p), False,
     ["row index", "columns named by number", "no labels"]),
    ("label-then-numbered-pixels", "a.csv",
     lambda f, p: f.set_axis(["label", *map(str, range(784))], axis=1).to_csv(p, index=False),
     True, None),
    ("label-in-the-middle", "a.csv", lambda f, p: label_moved(f, 300).to_csv(p, index=False),
     True, ["column 301 ('label') read as the label"]),
    ("openml-class-last-with-index", "a.csv", lambda f, p: label_moved(f, 784, "class").to_csv(p),
     True, ["row index", "column 786 ('class') read as the label"]),
    ("semicolon", "a.csv", lambda f, p: f.to_csv(p, sep=";", index=False), True,
     ["separated by ';'"]),
    ("semicolon-excel-sep-line", "a.csv",
     lambda f, p: p.write_text("sep=;\n" + f.to_csv(sep=";", index=False)), True,
     ["separated by ';'"]),
    ("tab", "a.tsv", lambda f, p: f.to_csv(p, sep="\t", index=False), True, ["tab-separated"]),
    ("pipe", "a.csv", lambda f, p: f.to_csv(p, sep="|", index=False), True, ["'|'"]),
    ("every-line-ends-with-a-separator", "a.csv",
     lambda f, p: f.to_csv(p, sep=";", index=False, lineterminator=";\n"), True,
     ["separated by ';'", "empty last column ignored"]),
    ("no-header-every-line-ends-with-a-comma", "a.csv",
     lambda f, p: f.to_csv(p, index=False, header=False, lineterminator=",\n"), True,
     ["no header line", "empty last column ignored", "column 1 read as the label"]),
    ("spaces-savetxt-default", "a.txt", lambda f, p: np.savetxt(p, f.to_numpy()), True,
     ["separated by spaces", "no header line"]),
    ("savetxt-header-comment", "a.csv",
     lambda f, p: np.savetxt(p, f.to_numpy(), fmt="%d", delimiter=",",
                             header=",".join(f.columns)), True, ["'#' comment"]),
    ("r-write-csv", "a.csv", lambda f, p: r_write_csv(f, p), True, ["row index"]),
    ("r-write-table", "a.txt", lambda f, p: r_write_table(f, p), True,
     ["separated by spaces", "row index"]),
    ("fractions", "a.csv", lambda f, p: unit_frame(f).to_csv(p, index=False), True,
     ["pixels 0..1 scaled to 0..255"]),
    ("fractions-semicolon-decimal-comma", "a.csv",
     lambda f, p: unit_frame(f).to_csv(p, sep=";", decimal=",", index=False), True,
     ["separated by ';', with decimal commas", "pixels 0..1 scaled"]),
    ("fractions-tab-decimal-comma-no-header", "a.tsv",
     lambda f, p: unit_frame(f).to_csv(p, sep="\t", decimal=",", index=False, header=False), True,
     ["decimal commas", "no header line", "pixels 0..1 scaled"]),
    ("floats-0-255", "a.csv", lambda f, p: f.astype(float).to_csv(p, index=False), True, None),
    ("quoted-crlf-bom", "a.csv",
     lambda f, p: f.to_csv(p, index=False, quoting=csv.QUOTE_ALL, lineterminator="\r\n",
                           encoding="utf-8-sig"), True, None),
    ("old-mac-cr", "a.csv",
     lambda f, p: p.write_bytes(f.to_csv(index=False).replace("\n", "\r").encode()), True, None),
    ("kaggle-test-no-label", "a.csv", lambda f, p: f.iloc[:, 1:].to_csv(p, index=False), False,
     None),
    ("gzip", "a.csv.gz", lambda f, p: f.to_csv(p, index=False), True, None),
    ("zip-of-one", "a.zip", lambda f, p: f.to_csv(p, index=False), True, None),
    ("zip-from-macos-finder", "a.zip", macos_zip, True, None),
    ("gzip-under-a-csv-name", "a.csv", gzip_under_a_csv_name, True,
     ["gzip-compressed, though its name does not say so"]),
    ("pixel-columns-shuffled", "a.csv", shuffled_columns, True,
     ["pixel columns out of order: rearranged as their names say (pixel0, pixel1, ...)"]),
    ("mnist-in-csv-names-column-major", "a.csv", column_major_named, True,
     ["rearranged as their names say (1x1, 1x2, ...)"]),
]


@pytest.mark.parametrize(("name", "write", "labelled", "notes"),
                         [case[1:] for case in LAYOUTS], ids=[case[0] for case in LAYOUTS])
def test_each_layout_reads_the_same_digits_and_says_how(tmp_path, rows30, name, write,
                                                        labelled, notes):
    X, y, frame = rows30
    path = tmp_path / name
    write(frame, path)
    said = []
    X_read, y_read = data.load_csv(str(path), 9, report=said.append)
    assert X_read.dtype == np.uint8
    np.testing.assert_array_equal(X_read, X)
    if labelled:
        assert y_read.dtype == np.int64
        np.testing.assert_array_equal(y_read, y)
    else:
        assert y_read is None
    if notes is None:
        assert said == [], "the standard layout is read without a word"
    else:
        assert len(said) == 1, said
        assert said[0].startswith(f"{path}: ")
        for text in notes:
            assert text in said[0], f"{text!r} not in {said[0]!r}"


def test_a_missing_file_with_a_stray_space_in_its_name_says_so(tmp_path, rows30):
    rows30[2].to_csv(tmp_path / "a.csv", index=False)
    with pytest.raises(data.InputError, match=r"a.csv : no such file \(its name has a stray "
                                              r"space; '.*a.csv' exists\)"):
        data.load_csv(str(tmp_path / "a.csv "))


def test_two_names_of_a_list_run_together_are_said_to_be(tmp_path):
    """--WEIGHTS=['a.pkl' 'b.pkl'] without the comma: Python joins the two strings into one
    name; the missing file's line says what probably happened."""
    import errors

    glued = str(tmp_path / "a" / "weights.pkl") + "runs/b/weights.pkl"
    assert str(errors.no_such_file(glued, "weights file")).endswith(
        ": no such weights file (two .pkl names run together? a list needs commas between "
        "its names: ['a', 'b'])")
    assert "run together" not in str(errors.no_such_file(str(tmp_path / "a.pkl")))


@pytest.mark.parametrize(("name", "ids", "expected"), [
    ("ImageId", range(28001, 28031), [str(i) for i in range(28001, 28031)]),
    ("id", [f"img-{k}" for k in range(30)], [f"img-{k}" for k in range(30)]),
    ("ImageId", range(1, 31), None),  # numbers the rows as the predictions do anyway
    ("index", range(100, 130), None),  # a row index, not an id
])
def test_row_ids_are_the_files_own_id_column(tmp_path, rows30, name, ids, expected):
    frame = rows30[2].drop(columns="label")
    frame.insert(0, name, list(ids))
    frame.to_csv(tmp_path / "a.csv", index=False)
    found = data.row_ids(str(tmp_path / "a.csv"))
    assert found == (None if expected is None else (name, expected))
    X, y = data.load_csv(str(tmp_path / "a.csv"), 9, report=lambda line: None)
    np.testing.assert_array_equal(X, rows30[0])  # the ids are no pixels
    assert y is None


def test_looks_unlike_mnist_names_inverted_and_dim_pixels(rows30):
    X = rows30[0]
    assert data.looks_unlike_mnist(X) == ("", "")
    kind, phrase = data.looks_unlike_mnist(255 - X)
    assert kind == "light" and "background is light (median pixel 255)" in phrase
    kind, phrase = data.looks_unlike_mnist(X // 16)
    assert kind == "dim" and "never pass 15" in phrase


def test_shared_rows_counts_test_rows_seen_in_training(rows30):
    X = rows30[0]
    assert data.shared_rows(X[:20], X[20:]) == 0
    assert data.shared_rows(X[:20], X[15:]) == 5
    assert data.shared_rows(X, X) == 30


def test_pixels_of_0_and_1_only_are_read_as_0_and_255(tmp_path, rows30):
    """A binarised MNIST file: a picture whose brightest pixel is 1 of 255 would be invisible."""
    X, y, frame = rows30
    binary = pd.concat([frame[["label"]], (frame.iloc[:, 1:] > 127).astype(int)], axis=1)
    binary.to_csv(tmp_path / "b.csv", index=False)
    said = []
    X_read, y_read = data.load_csv(str(tmp_path / "b.csv"), 9, report=said.append)
    np.testing.assert_array_equal(X_read, np.where(X > 127, 255, 0))
    np.testing.assert_array_equal(y_read, y)
    assert "0 and 1 only" in said[0]


def test_an_all_zero_file_is_read_and_said(tmp_path):
    (tmp_path / "z.csv").write_text(csv_text([["0"] * 5] * 3), encoding="utf-8")
    said = []
    X, y = data.load_csv(str(tmp_path / "z.csv"), 9, report=said.append)
    assert y.tolist() == [0, 0, 0]
    assert X.shape == (3, 4)
    assert not X.any()
    assert said == [f"{tmp_path / 'z.csv'}: every pixel is 0"]


def test_a_label_column_never_counts_as_pixels_in_any_place(tmp_path, rows30):
    """Moving the label to each place in turn reads the same pixels (the label is no pixel)."""
    X, y, frame = rows30
    small = frame.iloc[:, :17]  # the label and 16 pixels (4x4): quick to write 17 times
    for position in range(17):
        path = tmp_path / f"p{position}.csv"
        label_moved(small, position).to_csv(path, index=False)
        X_read, y_read = data.load_csv(str(path), 9, report=lambda line: None)
        np.testing.assert_array_equal(X_read, X[:, :16])
        np.testing.assert_array_equal(y_read, y)


# (id, file name, text or a function of (frame, path) that writes it, the start of the
#  message after the path, texts the message holds)
LAYOUT_ERRORS = [
    ("no-header-width-neither-square", "a.csv",
     lambda f, p: f.iloc[:, :-1].iloc[:, 1:].to_csv(p, index=False, header=False),
     "no column names, and 783 columns", ["header line"]),
    ("two-label-columns", "a.csv",
     lambda f, p: f.assign(target=f["label"]).to_csv(p, index=False),
     "line 1: columns 1 ('label') and 786 ('target') could both be the label", ["rename"]),
    ("utf-16-unicode-text", "a.txt",
     lambda f, p: p.write_text(f.to_csv(sep="\t", index=False), encoding="utf-16"),
     "is UTF-16 text", ["CSV UTF-8"]),
    ("utf-16-without-a-byte-order-mark", "a.csv",
     lambda f, p: p.write_text(f.to_csv(index=False), encoding="utf-16-le"),
     "is UTF-16 text", ["CSV UTF-8"]),
    ("nul-bytes-at-the-end", "a.csv",
     lambda f, p: p.write_bytes(f.to_csv(index=False).encode() + b"\x00" * 4096),
     "line 32 holds NUL bytes", ["damaged copy"]),
    ("png-picture-named-csv", "a.csv",
     lambda f, p: Image.fromarray(f.iloc[0, 1:].to_numpy(np.uint8).reshape(28, 28)).save(
         p, format="PNG"),
     "is a PNG picture, not a CSV", []),
    ("excel-workbook", "a.xlsx", excel_workbook, "is a spreadsheet, not a CSV", ["CSV UTF-8"]),
    ("excel-workbook-named-zip", "a.zip", excel_workbook, "is an Excel workbook", ["CSV UTF-8"]),
    ("zip-of-two-files", "a.zip", lambda f, p: two_files_zip(f, p), "holds 2 files", []),
    ("not-gzip", "a.csv.gz", lambda f, p: p.write_text(f.to_csv(index=False)),
     "cannot be read", []),
    ("semicolon-bad-cell", "a.csv",
     lambda f, p: p.write_text(f.to_csv(sep=";", index=False).replace(";0;0;0;", ";0;abc;0;", 1)),
     "line 2, column ", ["pixel 'abc' is not a number"]),
    ("no-header-bad-label", "a.csv",
     lambda f, p: p.write_text("".join(["17" + line[1:] if i == 3 else line for i, line in
                                        enumerate(f.to_csv(index=False, header=False)
                                                  .splitlines(keepends=True))])),
     "line 4, column 1 (label): label '17' is outside 0..9", []),
    ("no-header-bad-first-line", "a.csv",
     lambda f, p: p.write_text(f.to_csv(index=False, header=False).replace(",0,", ",zz,", 1)),
     "line 1, column ", ["(pixel", "'zz' is not a number"]),
    ("fractions-with-one-above-1", "a.csv",
     lambda f, p: p.write_text(unit_frame(f).to_csv(index=False).replace(",0.0,", ",200,", 9)),
     "line 2, column ", ["'200' is outside 0..1", "fractions 0..1"]),
    ("index-with-a-bad-pixel", "a.csv",
     lambda f, p: p.write_text(f.to_csv().replace(",0,", ",-3,", 1)),
     "line 2, column ", ["'-3' is outside 0..255"]),
    ("header-only-with-index", "a.csv", lambda f, p: p.write_text(f.iloc[:0].to_csv()),
     "has a header line but no rows", []),
    ("a-label-and-no-pixels", "a.csv", lambda f, p: p.write_text("label\n5\n3\n"),
     "line 1: the header names no pixel columns", []),
    ("only-comments", "a.csv", lambda f, p: p.write_text("# made by hand\n# nothing else\n"),
     "holds no rows", []),
]


@pytest.mark.parametrize(("name", "write", "start", "contains"),
                         [case[1:] for case in LAYOUT_ERRORS],
                         ids=[case[0] for case in LAYOUT_ERRORS])
def test_a_layout_that_cannot_be_read_gets_one_line(tmp_path, rows30, name, write, start,
                                                    contains):
    _, _, frame = rows30
    path = tmp_path / name
    write(frame, path)
    with pytest.raises(data.InputError) as info:
        data.load_csv(str(path), 9, report=lambda line: pytest.fail(f"said {line!r}"))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {start}"), message
    for text in contains:
        assert text in message, f"{text!r} not in {message!r}"


def test_a_long_cell_is_quoted_short(tmp_path):
    """A semicolon file read as commas once echoed a whole row of 8,934 characters."""
    long = "x" * 5000
    path = tmp_path / "long.csv"
    path.write_text(csv_text(table(5)[:2] + [["1", "2", long, "3", "4"]] + table(5)[3:]))
    with pytest.raises(data.InputError) as info:
        data.load_csv(str(path), 9)
    message = str(info.value)
    assert message.startswith(f"{path}: line 4, column 3 (pixel1): pixel 'xxx"), message
    assert len(message) < len(str(path)) + 120, message


# ----------------------------------------------------------------------------
# random files in random layouts: the right values, or one line naming the file

BAD_TOKENS = ["abc", "x", "", " ", "nan", "NaN", "inf", "-inf", "-1", "256", "1000",
              "2.5", "0.5", "1e3", "0x10", "NA", "#", "1_0", "\u0661", '"', '1"', "--1",
              "1-", "1.2.3", "1 2", "'"]


@st.composite
def csv_files(draw, malformed=False):
    """A small valid CSV in one of the layouts load_csv reads, and the values it holds.

    Returns (render, header, rows, value_start, label_column, X, y): render(header,
    rows) -> the file's bytes; header the names (or None); rows the cells as
    strings, row index first when there is one; value_start the first column that
    is not a row index; label_column the column of the labels (or None); X (n,
    n_pixels) and y (n,) or None what load_csv must return. A file meant to be
    broken (malformed) keeps to layouts where one bad cell cannot pass for a header or
    for another valid layout: no space separators, and >= 4 columns and >= 2 rows
    without a header. A file of one column is no layout anyone saves (its separator
    cannot be seen): there is none.
    """
    labelled = draw(st.booleans(), label="labelled")
    has_header = draw(st.booleans(), label="header")
    sep = draw(st.sampled_from([",", ";", "\t"] + ([] if malformed else [" "])), label="sep")
    if has_header:
        n_pixels = draw(st.integers(1 if labelled else 2, 4), label="pixels")
    else:  # without names the width says what the columns are: a square (+ 1 label)
        n_pixels = 4 if malformed or not labelled else draw(st.sampled_from([1, 4]),
                                                            label="pixels")
    n_rows = draw(st.integers(2 if malformed and not has_header else 1, 5), label="rows")
    X = np.array(draw(st.lists(st.lists(st.integers(0, 255), min_size=n_pixels,
                                        max_size=n_pixels), min_size=n_rows, max_size=n_rows)),
                 dtype=np.uint8).reshape(n_rows, n_pixels)
    y = np.array(draw(st.lists(st.integers(0, 9), min_size=n_rows, max_size=n_rows)))
    # a file without names whose labels are all 0 and whose last column varies
    # within 0..9 is read with the label last (MNIST's corner pixels are 0): not here
    hypothesis.assume(has_header or not labelled or y.any() or X[:, -1].max() > 9
                      or X[:, -1].min() == X[:, -1].max())
    index = draw(st.booleans(), label="index") and (has_header or (labelled and n_rows >= 2))
    at = draw(st.integers(0, n_pixels), label="label at") if has_header and labelled else 0
    unit = draw(st.booleans(), label="fractions")
    decimal = "," if unit and sep in ";\t" and draw(st.booleans(), label="comma") else "."
    quote = draw(st.booleans(), label="quoted")
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]), label="newline")
    bom = draw(st.booleans(), label="bom")
    trailing = sep != " " and draw(st.booleans(), label="every line ends with sep")

    def pixel(v):
        return repr(v / 255).replace(".", decimal) if unit else str(v)

    rows = []
    for i in range(n_rows):
        cells = [pixel(int(v)) for v in X[i]]
        if labelled:
            cells.insert(at, str(y[i]))
        rows.append(([str(i)] if index else []) + cells)
    names = [f"pixel{j}" for j in range(n_pixels)]
    if labelled:
        names.insert(at, "label")
    header = ([""] if index else []) + names if has_header else None

    def render(header, rows):
        def line(cells):
            return sep.join(f'"{c}"' if quote or (c == "" and sep == " ") else c
                            for c in cells) + (sep if trailing else "")
        lines = ([line(header)] if header is not None else []) + [line(r) for r in rows]
        return ("\ufeff" if bom else "").encode() + (newline.join(lines) + newline).encode()

    expected = X * np.uint8(255) if not unit and X.max() == 1 else X
    if not unit and 1 < X.max() <= 16:  # the scale of scikit-learn's 8x8 digits
        expected = images.SCALE_16[X]
    return (render, header, rows, int(index), int(index) + at if labelled else None,
            expected, y if labelled else None)


def load_bytes(content):
    """load_csv on a file of these bytes, in a temporary folder: (path, X, y, what it said)."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "data.csv")
        with open(path, "wb") as f:
            f.write(content)
        said = []
        try:
            X, y = data.load_csv(path, 9, report=said.append)
        except data.InputError as e:
            return path, e, None, said
        return path, X, y, said


@hypothesis.settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(made=csv_files())
def test_well_formed_csv_in_any_layout_loads_exact_values(made):
    render, header, rows, _, _, X, y = made
    _, X_read, y_read, said = load_bytes(render(header, rows))
    assert not isinstance(X_read, Exception), str(X_read)
    assert X_read.dtype == np.uint8
    np.testing.assert_array_equal(X_read, X)
    if y is None:
        assert y_read is None
    else:
        assert y_read.dtype == np.int64
        np.testing.assert_array_equal(y_read, y)
    assert len(said) <= 1


@hypothesis.settings(max_examples=80, deadline=None, derandomize=True, database=None)
@given(made=csv_files(malformed=True), draws=st.data())
def test_malformed_csv_in_any_layout_raises_input_error_naming_the_file(made, draws):
    render, header, rows, start, label_column, _, _ = made
    rows = [list(row) for row in rows]
    width = len(rows[0])
    r = draws.draw(st.integers(0, len(rows) - 1), label="row")
    how = draws.draw(st.sampled_from(["token", "fewer-fields", "more-fields"]), label="how")
    if how == "token":
        column = draws.draw(st.integers(start, width - 1), label="column")
        token = draws.draw(st.sampled_from(BAD_TOKENS), label="token")
        rows[r][column] = token
        # 0.5 is a good pixel in a file whose other pixels are all within 0..1
        others = [float(cell.replace(",", ".")) for i, row in enumerate(rows)
                  for j, cell in enumerate(row)
                  if j >= start and j != label_column and (i, j) != (r, column)]
        hypothesis.assume(token != "0.5" or column == label_column or max(others) > 1)
        # a label that is a word in a file of one row is a class name (labels as names)
        hypothesis.assume(column != label_column or len(rows) > 1
                          or re.fullmatch(r"[-+0-9.,e\s]*", token))
    elif how == "fewer-fields":  # at least one field stays: an empty line is skipped
        rows[r] = rows[r][:draws.draw(st.integers(1, width - 1), label="kept")]
    else:
        rows[r] = rows[r] + draws.draw(st.lists(st.sampled_from(["0", "7", "255"]),
                                               min_size=1, max_size=3), label="extra")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # warnings are the CLI tests' business
        path, error, _, _ = load_bytes(render(header, rows))
    assert isinstance(error, data.InputError), f"read without an error: {error!r}"
    assert str(error).startswith(f"{path}: "), str(error)
    assert "\n" not in str(error)


# ----------------------------------------------------------------------------
# the shipped data

SHA256 = {
    "train.csv": "a15dad728e71092adbf48d4771f80dd4878819c8177c1e33d8e93b366eaebc82",
    "test.csv": "a2352fb1a1baa1fcb2e57c5a14ecc04245294f60366ab633bcebfb01ce7c308f",
}



@pytest.mark.parametrize("name", sorted(SHA256))
def test_shipped_csv_checksum(repo, name):
    """train.csv and test.csv are byte for byte the published MNIST files."""
    digest = hashlib.sha256()
    with open(repo / name, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    assert digest.hexdigest() == SHA256[name]


def test_ctrl_c_swallowed_by_pandas_reader_is_still_an_interrupt(tmp_path, rows30, monkeypatch):
    """Ctrl-C inside the read() that pandas' C reader calls comes out of pandas as a
    ParserError; it must stay an interrupt, not become "could not be read"."""
    rows30[2].to_csv(tmp_path / "a.csv", index=False)

    def like_pandas(*args):
        try:
            os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl-C mid-read
            time.sleep(1)
        except KeyboardInterrupt:  # what pandas' C reader does with it
            pass
        raise pd.errors.ParserError("Error tokenizing data. C error: Calling read(nbytes) "
                                    "on source failed. Try engine='python'.")

    monkeypatch.setattr(csvfiles, "_parse", like_pandas)
    with pytest.raises(KeyboardInterrupt):
        data.load_csv(str(tmp_path / "a.csv"))


def test_a_pipe_is_refused_not_waited_on(tmp_path):
    """A FIFO would be opened twice (the layout, then the rows) and hang: refused at once."""
    os.mkfifo(tmp_path / "pipe.csv")
    with pytest.raises(data.InputError, match="is not a regular file \\(a pipe or a device\\)"):
        data.load_csv(str(tmp_path / "pipe.csv"))


def test_a_relative_path_from_another_folder_names_the_projects_copy(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(data.InputError) as info:
        data.load_csv("train.csv")
    assert str(info.value) == (f"train.csv: no such file in the current folder, {tmp_path}; "
                               f"the project's copy is {os.path.join(os.path.dirname(data.__file__), 'train.csv')}")
