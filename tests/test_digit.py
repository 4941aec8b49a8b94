"""digit.py: a drawn digit, dark on light or light on dark, in any of the layouts
matplotlib reads, becomes an MNIST-like row: centred by mass, scaled to the 20-pixel box.

Reading a picture file (missing, corrupt, blank) is checked through --PREDICT in
test_main.py.
"""

import numpy as np
import pytest
from helpers import draw

import digit


def as_kind(grey, kind):
    """The grey picture as matplotlib may return it: float RGB, RGBA, uint8 RGB, grey."""
    rgb = np.repeat(grey[..., None], 3, axis=2)
    if kind == "rgb-float":
        return rgb
    if kind == "rgba-float":
        return np.dstack([rgb, np.ones_like(grey)])
    if kind == "rgb-uint8":
        return np.round(rgb * 255).astype(np.uint8)
    if kind == "grey-float":
        return grey
    raise ValueError(kind)


def ink_box(x):
    """The height and width of the bounding box of the non-zero pixels of a 28x28 image."""
    rows = np.flatnonzero(x.any(axis=1))
    cols = np.flatnonzero(x.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def centre_of_mass(x):
    x = x.astype(np.float64)
    return ((x.sum(axis=1) @ np.arange(28)) / x.sum(), (x.sum(axis=0) @ np.arange(28)) / x.sum())


def assert_mnist_like(flat):
    assert flat.shape == (784,)
    assert flat.dtype == np.uint8
    assert flat.min() == 0
    assert flat.max() == 255
    x = flat.reshape(28, 28)
    for corner in (x[:2, :2], x[:2, -2:], x[-2:, :2], x[-2:, -2:]):
        assert (corner == 0).all(), "the background is not 0 (ink must be bright)"
    assert np.mean(x == 0) > 0.5, "most of the picture should be dark background"
    cy, cx = centre_of_mass(x)
    assert abs(cy - 13.5) <= 1, f"centre of mass row {cy}"
    assert abs(cx - 13.5) <= 1, f"centre of mass column {cx}"
    height, width = ink_box(x)
    assert height <= 21, f"ink is {height} rows high, more than the 20-pixel box"
    assert width <= 21, f"ink is {width} columns wide, more than the 20-pixel box"
    assert max(height, width) >= 19, "the digit was not scaled up to the 20-pixel box"


@pytest.mark.parametrize("kind", ["rgb-float", "rgba-float", "rgb-uint8", "grey-float"])
@pytest.mark.parametrize("shape", ["ring", "seven"])
def test_prepare_digit_makes_an_mnist_like_row(shape, kind):
    assert_mnist_like(digit.prepare_digit(as_kind(draw(shape), kind)))


@pytest.mark.parametrize("shape", ["ring", "seven"])
def test_prepare_digit_light_on_dark_gives_the_same_polarity(shape):
    dark_on_light = digit.prepare_digit(as_kind(draw(shape), "rgb-float"))
    light_on_dark = digit.prepare_digit(as_kind(1 - draw(shape), "rgb-float"))
    assert_mnist_like(light_on_dark)
    assert np.abs(light_on_dark.astype(int) - dark_on_light).max() <= 1


def test_prepare_digit_never_wraps_ink_around_the_edges():
    """Centring by mass may push ink towards an edge; it must not reappear on the other side."""
    x = digit.prepare_digit(as_kind(draw("bar-and-dot"), "rgb-float")).reshape(28, 28)
    height, width = ink_box(x)
    assert height <= 21
    assert width <= 21, f"ink spans {width} columns: it wrapped around the picture's edge"
