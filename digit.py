"""A picture of one digit, prepared the way MNIST's digits were made.

Used by `python main.py --PREDICT=picture.png` to classify a digit drawn or
photographed by the user.
"""

import os

import numpy as np

from data import InputError


def read_image(path):
    """Read a PNG or JPEG with matplotlib, or raise a one-line InputError.

    Returns the array matplotlib gives: (h, w), (h, w, 3) or (h, w, 4).
    """
    import matplotlib.image

    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    try:
        image = matplotlib.image.imread(path)
    except Exception as e:  # noqa: BLE001 -- Pillow raises many kinds for a bad file
        raise InputError(f"{path}: not a readable PNG or JPEG image ({e})") from None
    if image.ndim not in (2, 3) or min(image.shape[:2]) < 1:
        raise InputError(f"{path}: not a picture of one digit (shape {image.shape})")
    return image



def resize(img, shape):
    """Resize a 2-D grey image by bilinear interpolation, NumPy only."""
    h, w = img.shape
    H, W = shape
    ys = (np.arange(H) + 0.5) * h / H - 0.5
    xs = (np.arange(W) + 0.5) * w / W - 0.5
    y0 = np.clip(np.floor(ys).astype(int), 0, h - 1)
    x0 = np.clip(np.floor(xs).astype(int), 0, w - 1)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy = np.clip(ys - y0, 0, 1)[:, None]
    fx = np.clip(xs - x0, 0, 1)[None, :]
    top = img[y0][:, x0] * (1 - fx) + img[y0][:, x1] * fx
    bottom = img[y1][:, x0] * (1 - fx) + img[y1][:, x1] * fx
    return top * (1 - fy) + bottom * fy


def prepare_digit(img, side=28, box=20):
    """Turn a picture of one digit into an MNIST-style row of side*side pixels.

    MNIST's digits are light on dark, scaled to fit a 20x20 box with their
    aspect ratio kept, then centred by their centre of mass in 28x28 (LeCun
    et al., the MNIST page). This does the same: grey levels; inverted if the
    background (the border's median) is light; cropped to the digit; scaled
    (shrinking first averages blocks, so thin strokes survive); then shifted.

    img -- an image array as matplotlib reads it: (h, w), (h, w, 3) or
           (h, w, 4), floats in 0..1 or integers in 0..255
    Returns a uint8 array of shape (side * side,).
    """
    img = np.asarray(img, dtype=np.float64)
    if img.dtype.kind != "f" or img.max() > 1:
        img = img / 255.0
    if img.ndim == 3:
        if img.shape[2] == 4:  # composite on white
            img = img[..., :3] * img[..., 3:] + (1 - img[..., 3:])
        img = img[..., :3] @ np.array([0.299, 0.587, 0.114])
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
    if np.median(border) > 0.5:  # dark on light: make it light on dark like MNIST
        img, border = 1 - img, 1 - border
    img = np.clip(img - np.median(border), 0, 1)  # the background to 0
    ink = img > 0.1 * img.max() if img.max() > 0 else np.zeros(img.shape, bool)
    if not ink.any():
        raise ValueError("the image is blank: no digit found")
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    img = img[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = img.shape
    scale = box / max(h, w)
    H, W = max(1, round(h * scale)), max(1, round(w * scale))
    factor = int(min(h // H, w // W))
    if factor > 1:  # average factor x factor blocks before interpolating
        img = img[:h - h % factor, :w - w % factor]
        img = img.reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))
    digit = resize(img, (H, W))
    total = digit.sum()
    cy = digit.sum(axis=1) @ np.arange(H) / total  # the centre of mass, in the box
    cx = digit.sum(axis=0) @ np.arange(W) / total
    top = int(np.clip(round((side - 1) / 2 - cy), 0, side - H))  # stay on the canvas
    left = int(np.clip(round((side - 1) / 2 - cx), 0, side - W))
    canvas = np.zeros((side, side))
    canvas[top:top + H, left:left + W] = digit
    return np.clip(np.round(canvas / canvas.max() * 255), 0, 255).astype(np.uint8).ravel()


