"""What the rows of pixels are: their side, grey or colour, the order of a colour image's
values, the scale of the pixels (0..1, 0..16, 0..255), and their orientation.

A row of n_pixels values is a square grey image when n_pixels = side * side
(784 = 28 x 28), or a square colour image when n_pixels = 3 * side * side
(3072 = 32 x 32 x 3), held with the channels last (red, green, blue of
each pixel in turn, as Pillow and Keras hold them); a planar file (all red,
then all green, then all blue, as CIFAR-10's own files are) is rearranged
to that order when it is read.
"""

import math

import numpy as np

from errors import InputError

SCALE_16 = np.rint(np.minimum(np.arange(256), 16) * 255 / 16).astype(np.uint8)  # 0..16 -> 0..255


def shape_of(n_pixels):
    """(side, channels) of a row of n_pixels values: (28, 1) for 784, (32, 3) for 3072,
    or None when it is neither a square grey nor a square colour image."""
    side = math.isqrt(n_pixels)
    if n_pixels and side * side == n_pixels:
        return side, 1
    side = math.isqrt(n_pixels // 3)
    if n_pixels and n_pixels % 3 == 0 and 3 * side * side == n_pixels:
        return side, 3
    return None


def describe(n_pixels):
    """'28x28 grey', '32x32 colour', or '100 pixels (not a square image)'."""
    shape = shape_of(n_pixels)
    if shape is None:
        return f"{n_pixels} pixels (not a square image)"
    side, channels = shape
    return f"{side}x{side} {'grey' if channels == 1 else 'colour'}"


def class_name(classes, k):
    """How class k is shown: its name from the weights' classes, or its number."""
    return classes[k] if classes and 0 <= k < len(classes) else str(k)


def picture_of(x):
    """One row of pixels as a picture for imshow: (side, side) grey or (side, side, 3)."""
    return as_pictures(np.asarray(x)[None, :])[0]


def as_pictures(X):
    """Rows of pixels as pictures: (n, side, side) for grey, (n, side, side, 3) for colour.
    Raises ValueError when the rows are not square images."""
    shape = shape_of(X.shape[-1])
    if shape is None:
        raise ValueError(f"{X.shape[-1]} pixels are not a square image, grey or colour")
    side, channels = shape
    return X.reshape(len(X), side, side, *((3,) if channels == 3 else ()))


def transposed(X):
    """Each square image of X turned over its diagonal (rows become columns), as EMNIST's
    files store theirs; its own inverse. X (n, n_pixels); returns a new array."""
    P = as_pictures(X)
    return np.ascontiguousarray(np.swapaxes(P, 1, 2)).reshape(X.shape)


def orientation(X, X_other):
    """How well the mean images of two sets of rows correlate as stored and with one of them
    transposed: (as stored, transposed). EMNIST's training file against MNIST's test file:
    about 0.7 and 0.98."""
    A, B = (np.asarray(M[:: max(1, len(M) // 5000)], np.float64).mean(axis=0) for M in (X, X_other))
    A_t = transposed(A[None, :])[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        return tuple(float(np.nan_to_num(np.corrcoef(a, B)[0, 1])) for a in (A, A_t))


def _roughness(P, axes):
    """The mean absolute difference between neighbouring values along two axes of P."""
    return sum(float(np.abs(np.diff(P, axis=a)).mean()) for a in axes)


def channels_last(X, notes):
    """Colour rows in channels-last order: planar rows are rearranged, and notes says which.

    The order is the one in which neighbouring pixels differ least: an image
    read in the wrong order is scrambled, and much rougher. X uint8 (n, 3 * s * s);
    returns X (the same array when already channels last).
    """
    side = shape_of(X.shape[1])[0]
    S = X[:: max(1, len(X) // 500)].astype(np.float32)
    last = _roughness(S.reshape(-1, side, side, 3), (1, 2))
    planar = _roughness(S.reshape(-1, 3, side, side), (2, 3))
    if planar < last:
        notes.append("colour, planar (all red, then green, then blue): rearranged to channels last")
        return np.ascontiguousarray(X.reshape(-1, 3, side, side).transpose(0, 2, 3, 1)).reshape(X.shape)
    notes.append("colour, channels last (red, green, blue of each pixel)")
    return X


def to_uint8(A, path, notes):
    """Pixels of any numeric type as uint8 0..255, the scale said in notes.

    Fractions 0..1 are scaled by 255, and so are images of 0 and 1 only;
    whole numbers up to 16 (scikit-learn's 8x8 digits) by 255/16; whole
    numbers up to 255 are kept. Raises InputError for anything else
    (negative, not finite, past 255, fractions past 1, not numbers).
    """
    if A.dtype.kind not in "uifb":
        raise InputError(f"{path}: pixels of type {A.dtype}, not numbers")
    if A.dtype == np.uint8 and A.max(initial=0) > 16:
        return A
    F = A.astype(np.float64)
    if not np.isfinite(F).all():
        raise InputError(f"{path}: some pixels are not finite (NaN or infinite)")
    low, top = F.min(initial=0), F.max(initial=0)
    whole = bool(np.all(F == np.round(F)))
    if low < 0:
        raise InputError(f"{path}: pixels go down to {low:g}: expected 0..255 (or 0..1, 0..16)")
    if not whole and top > 1:
        raise InputError(f"{path}: pixels hold fractions and go up to {top:g}: expected "
                         "fractions 0..1 or whole numbers 0..255")
    if top > 255:
        raise InputError(f"{path}: pixels go up to {top:g}: expected 0..255 (or 0..1, 0..16)")
    if not whole or top == 1:
        notes.append("pixels 0..1 scaled to 0..255" if not whole
                     else "pixels are 0 and 1 only: read as 0 and 255")
        return np.rint(F * 255).astype(np.uint8)
    if 1 < top <= 16:
        notes.append(f"pixels 0..16 (largest {top:g}) scaled to 0..255")
        return SCALE_16[F.astype(np.uint8)]
    return F.astype(np.uint8)


def flat_pixels(A, path, notes):
    """Images of an array in any usual shape as rows of uint8 pixels, channels last.

    A -- (n, side, side) grey, (n, side, side, 1), (n, side, side, 3) colour
    channels last, (n, 3, side, side) planar, or (n, n_pixels) already flat
    (a colour row's order is then found by channels_last). Returns uint8
    (n, n_pixels). Raises InputError for any other shape.
    """
    shape = A.shape
    if A.ndim == 4 and shape[3] == 1:
        A = A[..., 0]
    if A.ndim == 3 and shape[1] == shape[2]:
        X = A.reshape(len(A), -1)
    elif A.ndim == 4 and shape[1] == shape[2] and shape[3] == 3:
        X = A.reshape(len(A), -1)
        notes.append("colour, channels last")
    elif A.ndim == 4 and shape[2] == shape[3] and shape[1] == 3:
        X = np.ascontiguousarray(A.transpose(0, 2, 3, 1)).reshape(len(A), -1)
        notes.append("colour, planar (channels first): rearranged to channels last")
    elif A.ndim == 2 and shape_of(shape[1]):
        X = A
    else:
        raise InputError(f"{path}: images of shape {' x '.join(map(str, shape[1:]))}: expected "
                         "square images, grey (side x side) or colour (side x side x 3)")
    X = to_uint8(X, path, notes)
    if A.ndim == 2 and shape_of(X.shape[1])[1] == 3:
        X = channels_last(X, notes)
    return X
