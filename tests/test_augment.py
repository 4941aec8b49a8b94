"""augment.py: shifts, affine and elastic distortions of a training batch, and the
SciPy filters behind them."""

import itertools

import numpy as np

import augment


def test_random_shift_keeps_shape_and_dtype(mnist_small):
    """random_shift returns uint8 of the same shape; max_shift 0 returns the images unchanged."""
    X = mnist_small[0][:50]
    out = augment.random_shift(X, 2, np.random.default_rng(0))
    assert out.shape == X.shape
    assert out.dtype == np.uint8
    assert not np.array_equal(out, X)  # something did move
    np.testing.assert_array_equal(augment.random_shift(X, 0, np.random.default_rng(0)), X)


def test_random_shift_moves_a_single_pixel_by_at_most_max_shift():
    """A lone pixel moves by each of -k..k in both axes, never further, and keeps its value."""
    k, side, r, c = 2, 28, 14, 9
    X = np.zeros((400, side * side), dtype=np.uint8)
    X[:, r * side + c] = 173
    out = augment.random_shift(X, k, np.random.default_rng(1))
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
    out = augment.random_shift(centred, k, np.random.default_rng(2))
    np.testing.assert_array_equal(out.sum(axis=1, dtype=np.int64),
                                  centred.sum(axis=1, dtype=np.int64))
    np.testing.assert_array_equal(np.sort(out, axis=1), np.sort(centred, axis=1))


def test_random_affine_with_no_distortion_is_the_identity(mnist_small):
    """All three limits at 0 give back the batch unchanged."""
    X = mnist_small[0][:16]
    assert np.array_equal(augment.random_affine(X, 0, 0, 0, np.random.default_rng(0)), X)


def test_random_affine_keeps_shape_dtype_and_roughly_the_ink(mnist_small):
    """Small rotations, scalings and shifts keep shape, dtype and (about) the amount of ink."""
    X = mnist_small[0][:64]
    out = augment.random_affine(X, 2, 10, 0.1, np.random.default_rng(1))
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
    out = augment.random_affine(X, 0, 45, 0, np.random.default_rng(2))
    radius = np.sqrt(yy ** 2 + xx ** 2).ravel()
    assert (out[:, radius < 7] == 255).all()  # the inside stays full
    assert (out[:, radius > 10] == 0).all()  # the outside stays empty
    assert out.sum(axis=1).min() > 0.95 * X.sum(axis=1).min()
