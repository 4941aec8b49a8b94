"""Augmentation: random shifts, affine and elastic distortions of a training batch.

Every batch is distorted afresh when its turn comes (utils.train_epoch), so
the network never sees the same picture twice: Simard, Steinkraus and Platt
(2003) and Ciresan et al. (2010) credit most of a fully-connected network's
gain on MNIST to such deformed training digits. All randomness comes from the
run's one generator, drawn in a fixed order, so a run repeats and resumes
exactly. Images are flattened squares, batch-major: X of shape (n, side *
side), uint8 or floats; the result has X's shape and dtype.

What the library does and what NumPy does (each measured by
`python benchmarks/parts.py --distortions`, on a batch of 128 rows,
2026-12-04/05, the 2-core VM, busy and quiet; docs/performance.md, "What
the distortions cost"):
  - the resampling (each output pixel read, bilinearly, at the point the
    distortion maps it to) is what ndimage.map_coordinates(order=1) does,
    written as one NumPy gather over the batch (resample): map_coordinates
    does one image, or a batch as a 3-D array with twice the neighbours, and
    at MNIST's 28x28 and a batch of 128 the gather is 3-5 times quicker
    (medians of four runs) even against map_coordinates on the batch
    stacked as one tall picture;
  - the Gaussian that smooths the elastic displacement fields is SciPy's
    (ndimage.gaussian_filter1d builds the side x side matrix of the filter
    once), applied to the whole batch as two matrix products, which gives
    what ndimage.gaussian_filter gives, 15-60 times quicker on 1 BLAS
    thread of a busy machine (the medians of two runs), 1.7 times on 2
    of its threads, 3.2 times on 2 threads of the quiet machine, for
    28x28 fields;
  - whole-pixel shifts alone are one NumPy gather (random_shift), exact and
    cheaper than any interpolation.
"""

import functools
import math

import numpy as np
from scipy import ndimage


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


@functools.lru_cache(maxsize=8)
def gaussian_matrix(side, sigma):
    """The side x side matrix G with G @ v = ndimage.gaussian_filter1d(v, sigma, mode="constant").

    Column j is the filter's response to a single 1 at j, so G @ F @ G.T is
    ndimage.gaussian_filter(F, sigma, mode="constant") of a side x side
    array F (the filter is separable; zeros beyond the edge, as Simard et
    al.'s convolution of a field that is 0 outside the image). float32,
    read-only.
    """
    G = ndimage.gaussian_filter1d(np.eye(side), sigma, axis=0, mode="constant")
    G = G.astype(np.float32)
    G.flags.writeable = False
    return G


def elastic_fields(n, side, alpha, sigma, rng):
    """Random smooth displacement fields, (dy, dx), each float32 of shape (n, side, side).

    Simard, Steinkraus and Platt (2003), section 2: each pixel's
    displacement is drawn uniformly in [-1, 1], the field is smoothed by a
    Gaussian of standard deviation sigma pixels and scaled by alpha (they
    found sigma = 4, alpha = 34 best for MNIST; Ciresan et al. 2010 used
    sigma 5-6, alpha 36-38). A small sigma gives a random jitter, a large
    one a nearly uniform shift; in between, the strokes bend as a hand's
    would. The smoothing is the Gaussian of gaussian_matrix applied to the
    whole batch at once. Draws 2 * n * side * side numbers from rng.
    """
    G = gaussian_matrix(side, float(sigma))
    noise = rng.random((2 * n * side, side), dtype=np.float32)
    noise *= 2
    noise -= 1  # uniform in [-1, 1)
    rows = (noise @ G.T).reshape(2 * n, side, side)  # each row of each field smoothed
    # then each column: the fields transposed, smoothed along rows, transposed back
    columns = rows.transpose(0, 2, 1).reshape(2 * n * side, side) @ (G.T * np.float32(alpha))
    return columns.reshape(2, n, side, side).transpose(0, 1, 3, 2)


def resample(images, src_y, src_x):
    """Read each image bilinearly at the points (src_y, src_x): float32 (n, side, side).

    images -- (n, side, side), any real dtype; src_y, src_x -- (n, side,
    side) floats, in pixels of each image (row, column). Points outside an
    image read its zero surround, blended bilinearly at the edge. This is
    ndimage.map_coordinates(image, (src_y, src_x), order=1,
    mode="grid-constant") of each image, done as one NumPy gather of the
    four neighbours over the whole batch: 3-5 times quicker than
    map_coordinates on a batch of 128 (benchmarks/parts.py --distortions
    measures both; tests/test_augment.py checks they agree).
    """
    n, side, _ = images.shape
    src_y = np.clip(src_y, -1, side, dtype=np.float32)  # beyond: the zero border
    src_x = np.clip(src_x, -1, side, dtype=np.float32)
    y0, x0 = np.floor(src_y), np.floor(src_x)
    fy, fx = src_y - y0, src_x - x0  # how far past the top-left neighbour, 0..1
    width = side + 3  # one row and column of zeros before the image, two after
    padded = np.zeros((n, width, width), dtype=np.float32)
    padded[:, 1:side + 1, 1:side + 1] = images
    flat = padded.ravel()
    corner = y0.astype(np.intp) * width + x0.astype(np.intp)  # the top-left neighbour in flat
    corner += (np.arange(n) * (width * width) + width + 1)[:, None, None]
    top = flat.take(corner)
    top += fx * (flat.take(corner + 1) - top)
    corner += width
    bottom = flat.take(corner)
    bottom += fx * (flat.take(corner + 1) - bottom)
    bottom -= top
    bottom *= fy
    top += bottom
    return top


def random_distortion(X, max_shift, max_degrees, max_scale, alpha, sigma, rng):
    """Rotate, scale, shift and elastically distort each square image, in one resampling.

    The affine part: a rotation of up to max_degrees either way, a scaling
    by up to max_scale (both axes alike) and a shift of up to max_shift
    pixels (drawn uniformly, not whole), about the image's centre: Simard et
    al. 2003 and Ciresan et al. 2010 train with rotations of up to about 15
    degrees and scalings of 10-20%. The elastic part (alpha > 0):
    elastic_fields' displacements added to where each output pixel reads,
    so the two combine as Ciresan et al. did, with a single interpolation
    (less blur than two). Each output pixel reads the input bilinearly
    (resample); points outside the image read 0. Keeps shape and dtype
    (uint8 results are rounded); with every limit 0, X is returned as it is.

    X           -- a batch of flattened square images, shape (n, side * side)
    max_shift   -- the largest shift in pixels
    max_degrees -- the largest rotation either way, in degrees
    max_scale   -- the largest relative change of size, e.g. 0.1 for 90%..110%
    alpha       -- the elastic displacement's scale in pixels; 0 is off
    sigma       -- the elastic field's smoothness: the Gaussian's width in pixels
    Draws, in this order, n angles, n scales, 2n shifts, then (alpha > 0)
    2 n side^2 field values from rng, whatever the limits (0 gives 0).
    """
    if not (max_shift or max_degrees or max_scale or alpha):
        return X
    n, n_pixels = X.shape
    side = math.isqrt(n_pixels)
    centre = (side - 1) / 2
    angle = np.radians(rng.uniform(-max_degrees, max_degrees, n))[:, None, None]
    scale = rng.uniform(1 - max_scale, 1 + max_scale, n)[:, None, None]
    shift_y, shift_x = rng.uniform(-max_shift, max_shift, (2, n, 1, 1))
    grid = np.arange(side) - centre
    out_y, out_x = grid[None, :, None] - shift_y, grid[None, None, :] - shift_x
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    # the inverse rotation and scaling take each output pixel to where it reads;
    # the parts that vary along one axis are small, float64; the sums float32
    src_y = (centre + cos * out_y).astype(np.float32) - (sin * out_x).astype(np.float32)
    src_x = (centre + sin * out_y).astype(np.float32) + (cos * out_x).astype(np.float32)
    if alpha:
        dy, dx = elastic_fields(n, side, alpha, sigma, rng)
        src_y += dy
        src_x += dx
    out = resample(X.reshape(n, side, side), src_y, src_x).reshape(n, n_pixels)
    if X.dtype == np.uint8:
        np.rint(out, out=out)
        return np.clip(out, 0, 255, out=out).astype(np.uint8)
    return out.astype(X.dtype, copy=False)


def random_affine(X, max_shift, max_degrees, max_scale, rng):
    """random_distortion without the elastic part: rotations, scalings and shifts only."""
    return random_distortion(X, max_shift, max_degrees, max_scale, 0.0, 1.0, rng)


def augmentation(c):
    """The augmentation the settings c ask for, as a function (X, rng) -> X, or None.

    Whole-pixel shifts alone (MAX_SHIFT) take the cheap exact path;
    rotations, scalings or elastic distortions (MAX_ROTATE, MAX_SCALE,
    ELASTIC_ALPHA with ELASTIC_SIGMA) take the interpolating one, with
    MAX_SHIFT as its largest shift.
    """
    alpha, sigma = c.get("ELASTIC_ALPHA", 0.0), c.get("ELASTIC_SIGMA", 6.0)
    if c["MAX_ROTATE"] or c["MAX_SCALE"] or alpha:
        return lambda X, rng: random_distortion(X, c["MAX_SHIFT"], c["MAX_ROTATE"],
                                                c["MAX_SCALE"], alpha, sigma, rng)
    if c["MAX_SHIFT"]:
        return lambda X, rng: random_shift(X, c["MAX_SHIFT"], rng)
    return None
