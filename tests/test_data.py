"""data.py: loading CSVs (exact values, a byte-order mark, any malformed file an InputError
naming it), the shipped MNIST files, and augmentation (random_shift, random_affine).

The table of bad inputs that the program reports in one line with exit status 2,
many of them bad CSVs that data.load_csv finds, runs main.py as a whole: it is
in test_main.py.
"""

import hashlib
import itertools
import os
import tempfile
import warnings

import hypothesis
import numpy as np
import pytest
from helpers import csv_text, table
from hypothesis import given
from hypothesis import strategies as st

import data

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


BAD_TOKENS = ["abc", "x", "", " ", "nan", "NaN", "inf", "-inf", "-1", "256", "1000",
              "2.5", "0.5", "1e3", "0x10", "NA", "#", "1_0", "\u0661", '"', '1"', "--1",
              "1-", "1.2.3", "1 2", "'"]



@st.composite
def csv_shapes(draw):
    """(labelled, n_pixels, rows as lists of strings) of a small valid CSV, >= 2 columns."""
    labelled = draw(st.booleans())
    n_pixels = draw(st.integers(1 if labelled else 2, 4))
    n_rows = draw(st.integers(1, 5))
    rows = draw(st.lists(st.lists(st.integers(0, 255), min_size=n_pixels,
                                  max_size=n_pixels), min_size=n_rows, max_size=n_rows))
    labels = draw(st.lists(st.integers(0, 9), min_size=n_rows, max_size=n_rows))
    rows = [([label] if labelled else []) + row for label, row in zip(labels, rows)]
    return labelled, n_pixels, rows


def header_of(labelled, n_pixels):
    return ",".join((["label"] if labelled else []) + [f"pixel{j}" for j in range(n_pixels)])


@hypothesis.settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(shape=csv_shapes(), draws=st.data())
def test_malformed_csv_always_raises_input_error_naming_the_file(shape, draws):
    labelled, n_pixels, rows = shape
    rows = [[str(v) for v in row] for row in rows]
    width = len(rows[0])
    r = draws.draw(st.integers(0, len(rows) - 1), label="row")
    how = draws.draw(st.sampled_from(["token", "fewer-fields", "more-fields"]), label="how")
    if how == "token":
        rows[r][draws.draw(st.integers(0, width - 1), label="column")] = draws.draw(
            st.sampled_from(BAD_TOKENS), label="token")
    elif how == "fewer-fields":  # at least one field stays: an empty line is skipped
        rows[r] = rows[r][:draws.draw(st.integers(1, width - 1), label="kept")]
    else:
        rows[r] = rows[r] + draws.draw(st.lists(st.sampled_from(["0", "7", "255"]),
                                               min_size=1, max_size=3), label="extra")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "data.csv")
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(csv_text(rows, header_of(labelled, n_pixels)))
        with pytest.raises(data.InputError) as info, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # warnings are the CLI tests' business
            data.load_csv(path, 9)
    assert str(info.value).startswith(f"{path}: "), str(info.value)
    assert "\n" not in str(info.value)


@hypothesis.settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(shape=csv_shapes())
def test_well_formed_csv_loads_exact_values(shape):
    labelled, n_pixels, rows = shape
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "data.csv")
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(csv_text([[str(v) for v in row] for row in rows],
                             header_of(labelled, n_pixels)))
        X, y = data.load_csv(path, 9)
    expected = np.array(rows)
    assert X.dtype == np.uint8
    assert X.shape == (len(rows), n_pixels)
    np.testing.assert_array_equal(X, expected[:, 1:] if labelled else expected)
    if labelled:
        assert y.dtype == np.int64
        np.testing.assert_array_equal(y, expected[:, 0])
    else:
        assert y is None


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


# ----------------------------------------------------------------------------
# augmentation


def test_random_shift_keeps_shape_and_dtype(mnist_small):
    """random_shift returns uint8 of the same shape; max_shift 0 returns the images unchanged."""
    X = mnist_small[0][:50]
    out = data.random_shift(X, 2, np.random.default_rng(0))
    assert out.shape == X.shape
    assert out.dtype == np.uint8
    assert not np.array_equal(out, X)  # something did move
    np.testing.assert_array_equal(data.random_shift(X, 0, np.random.default_rng(0)), X)


def test_random_shift_moves_a_single_pixel_by_at_most_max_shift():
    """A lone pixel moves by each of -k..k in both axes, never further, and keeps its value."""
    k, side, r, c = 2, 28, 14, 9
    X = np.zeros((400, side * side), dtype=np.uint8)
    X[:, r * side + c] = 173
    out = data.random_shift(X, k, np.random.default_rng(1))
    assert np.all(np.count_nonzero(out, axis=1) == 1)
    assert np.all(out.max(axis=1) == 173)
    rows, cols = np.divmod(out.argmax(axis=1), side)
    offsets = set(zip((rows - r).tolist(), (cols - c).tolist()))
    assert offsets == set(itertools.product(range(-k, k + 1), repeat=2))


def test_random_shift_preserves_the_ink_of_a_centred_digit(mnist_small):
    """Digits with a blank border at least max_shift wide keep every bit of their ink."""
    k, side = 3, 28
    images = mnist_small[0][:200].reshape(-1, side, side)
    inner = np.zeros((side, side), dtype=bool)
    inner[k:side - k, k:side - k] = True
    centred = images[~np.any(images[:, ~inner], axis=1)].reshape(-1, side * side)
    assert len(centred) >= 50
    out = data.random_shift(centred, k, np.random.default_rng(2))
    np.testing.assert_array_equal(out.sum(axis=1, dtype=np.int64),
                                  centred.sum(axis=1, dtype=np.int64))
    np.testing.assert_array_equal(np.sort(out, axis=1), np.sort(centred, axis=1))


def test_random_affine_with_no_distortion_is_the_identity(mnist_small):
    """All three limits at 0 give back the batch unchanged."""
    X = mnist_small[0][:16]
    assert np.array_equal(data.random_affine(X, 0, 0, 0, np.random.default_rng(0)), X)


def test_random_affine_keeps_shape_dtype_and_roughly_the_ink(mnist_small):
    """Small rotations, scalings and shifts keep shape, dtype and (about) the amount of ink."""
    X = mnist_small[0][:64]
    out = data.random_affine(X, 2, 10, 0.1, np.random.default_rng(1))
    assert out.shape == X.shape
    assert out.dtype == np.uint8
    assert not np.array_equal(out, X)
    ink_before = X.reshape(64, -1).sum(axis=1).astype(float)
    ink_after = out.reshape(64, -1).sum(axis=1).astype(float)
    ratio = ink_after / ink_before
    # scaling by s changes the area by s^2: at most 0.9^2..1.1^2, plus rounding
    assert ratio.min() > 0.75
    assert ratio.max() < 1.3


def test_random_affine_rotation_leaves_a_centred_disc_alone():
    """A disc centred in the image looks the same at any rotation (up to interpolation)."""
    side = 28
    yy, xx = np.mgrid[:side, :side] - (side - 1) / 2
    disc = ((yy ** 2 + xx ** 2) <= 8 ** 2).astype(np.uint8) * 255
    X = np.repeat(disc.reshape(1, -1), 8, axis=0)
    out = data.random_affine(X, 0, 45, 0, np.random.default_rng(2))
    radius = np.sqrt(yy ** 2 + xx ** 2).ravel()
    assert (out[:, radius < 7] == 255).all()  # the inside stays full
    assert (out[:, radius > 10] == 0).all()  # the outside stays empty
    assert out.sum(axis=1).min() > 0.95 * X.sum(axis=1).min()
