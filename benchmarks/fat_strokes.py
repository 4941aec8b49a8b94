"""Digits drawn with pens from a hairline to a fat marker, classified as --PREDICT does.

    python benchmarks/fat_strokes.py --weights runs/784-256-128-64-10/weights.pkl
    python benchmarks/fat_strokes.py --weights W.pkl --n 20 --widths 1 30 60 --keep /tmp/fat

Each of the first --n rows of test.csv becomes a pen's path: the 28x28
canvas enlarged ten times with Lanczos to --canvas pixels (280 by default,
a drawing canvas on a web page), taken where it is darker than half, and
thinned to a line one pixel wide (Zhang and Suen's thinning, 1984). That
line is drawn again with a round pen of each --widths (pixels within
width / 2 of the line; the line itself for 1), black on white, saved as a
PNG, and goes through exactly the --PREDICT path (digit.read_image,
digit.prepare_digit given the file, the network). A row per width counts
the digits read right, and of the wrong ones those given with a warning on
stderr and those given silently (a confident wrong answer, the worst case).
--mnist N measures instead the strokes of MNIST's own digits (digit.STROKE_MNIST).
"""

import itertools
import os
import sys
import tempfile
import time

import numpy as np
from PIL import Image
from scipy import ndimage

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import photos  # benchmarks/: the options it shares
import small_digits  # and how it counts what --PREDICT reads

import data  # after the path is set
import digit
import runs


def thinned(mask):
    """mask (h, w) bool thinned to lines one pixel wide, 8-connected (Zhang and Suen, "A
    fast parallel algorithm for thinning digital patterns", CACM 1984): two sub-steps
    remove, all at once, the border pixels whose removal keeps the shape connected, until
    none is removed."""
    m = np.pad(mask, 1).astype(np.uint8)
    while True:
        removed = 0
        for step in (0, 1):
            n, ne, e, se = m[:-2, 1:-1], m[:-2, 2:], m[1:-1, 2:], m[2:, 2:]
            s, sw, w, nw = m[2:, 1:-1], m[2:, :-2], m[1:-1, :-2], m[:-2, :-2]
            ring = (n, ne, e, se, s, sw, w, nw, n)
            count = sum(p.astype(int) for p in ring[:8])
            rises = sum(((a == 0) & (b == 1)).astype(int) for a, b in itertools.pairwise(ring))
            if step == 0:
                side = (n * e * s == 0) & (e * s * w == 0)
            else:
                side = (n * e * w == 0) & (n * s * w == 0)
            gone = (m[1:-1, 1:-1] == 1) & (count >= 2) & (count <= 6) & (rises == 1) & side
            m[1:-1, 1:-1][gone] = 0
            removed += int(gone.sum())
        if not removed:
            return m[1:-1, 1:-1].astype(bool)


def pen_path(row, canvas):
    """The path a pen takes to draw an MNIST row on a canvas x canvas: bool, one pixel wide."""
    big = Image.fromarray(np.asarray(row, dtype=np.uint8).reshape(28, 28)).resize(
        (canvas, canvas), Image.Resampling.LANCZOS)
    return thinned(np.asarray(big) > 127)


def drawn(path, width):
    """The path drawn with a round pen `width` pixels wide: grey levels, black ink on white."""
    ink = path if width <= 1 else ndimage.distance_transform_edt(~path) <= width / 2
    return np.where(ink, 0, 255).astype(np.uint8)


def mnist_shares(path, n):
    """Percentiles of the stroke width as a share of the digit's longer side
    (digit.strokes_of) of the first n rows of the CSV at path, enlarged ten times (Lanczos)
    and cropped to their ink: the figures digit.STROKE_MNIST and its bounds come from."""
    X, _ = data.load_csv(path, 9)
    shares = []
    for row in X[:n]:
        big = np.asarray(Image.fromarray(row.reshape(28, 28)).resize(
            (280, 280), Image.Resampling.LANCZOS), dtype=np.float64).clip(0, 255) / 255
        rows, cols = np.flatnonzero(big.max(axis=1) > 0.5), np.flatnonzero(big.max(axis=0) > 0.5)
        ink = big[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        shares.append(digit.strokes_of(ink)[1] / max(ink.shape))
    q = np.percentile(shares, [1, 5, 10, 50, 90, 95, 99])
    return (f"stroke width / the digit's longer side, first {n} rows of "
            f"{os.path.basename(path)} enlarged 10x: percentiles 1, 5, 10, 50, 90, 95, 99: "
            + ", ".join(f"{v:.3f}" for v in q))


def main(argv=None):
    parser = photos.arguments(__doc__.split("\n")[0], 100, "how many rows of the CSV per width")
    parser.add_argument("--widths", type=int, nargs="+", default=[1, 5, 10, 20, 30, 40, 50, 60])
    parser.add_argument("--canvas", type=int, default=280)
    parser.add_argument("--keep", default="", help="write the pictures here and keep them")
    parser.add_argument("--mnist", type=int, default=0, metavar="N",
                        help="only measure the strokes of the first N rows of train.csv")
    args = parser.parse_args(argv)
    if args.mnist:
        print(mnist_shares(os.path.join(ROOT, "train.csv"), args.mnist))
        return
    saved = runs.load_weights(args.weights)
    X, y = data.load_csv(args.csv, 9)
    X, y = X[:args.n], y[:args.n]
    paths = [pen_path(row, args.canvas) for row in X]
    lines = [(f"{args.n} digits of {os.path.basename(args.csv)} drawn with a round pen on a "
              f"{args.canvas}x{args.canvas} canvas, weights {args.weights}"),
             *small_digits.table_head("stroke width (px)")]
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or scratch
        os.makedirs(folder, exist_ok=True)
        for width in args.widths:
            start = time.perf_counter()
            files = [os.path.join(folder, f"pen-{width:02d}px-{i:03d}-{y[i]}.png")
                     for i in range(len(paths))]
            for path, file in zip(paths, files):
                Image.fromarray(drawn(path, width)).save(file)
            lines.append(small_digits.table_row("width", width, files, y, saved, start))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
