"""A small digit in a large photo, classified as --PREDICT does, by the digit's height.

    python benchmarks/small_digits.py --weights runs/784-256-128-64-10/weights.pkl
    python benchmarks/small_digits.py --weights W.pkl --n 10 --heights 30 45 60

Each of the first --n rows of test.csv is drawn on a page of --page pixels
(4000x3000 by default, a phone photo) so that the digit (20/28 of MNIST's
canvas) is --heights pixels tall: the 28x28 canvas enlarged with Lanczos,
dark grey ink (the paper's grey 235 less 200 at the strokes' core) on light
paper, at a random place (one seeded generator), saved as a JPEG of quality
90. Each file then goes through the --PREDICT path (digit.read_image,
digit.prepare_digit given the file, the network). A row per height counts
the digits read right, and of the wrong ones those given with a warning on
stderr and those given silently (a confident wrong answer, the worst case).
"""

import os
import sys
import tempfile
import time

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import photos  # benchmarks/: the options it shares

import data  # after the path is set
import digit
import runs
import utils

PAPER, DEPTH = 235, 200  # the paper's grey and how much darker the ink's core is (0..255)


def page_photo(row, height, page, rng):
    """A page (h, w) = page of grey paper with the digit `height` px tall at a random place: L image."""
    glyph = round(height * 28 / 20)  # the digit fills 20 of MNIST's 28 pixels
    ink = np.asarray(Image.fromarray(np.asarray(row, dtype=np.uint8).reshape(28, 28)).resize(
        (glyph, glyph), Image.Resampling.LANCZOS), dtype=np.float64) / 255
    grey = np.full(page, float(PAPER))
    top = int(rng.integers(0, page[0] - glyph + 1))
    left = int(rng.integers(0, page[1] - glyph + 1))
    grey[top:top + glyph, left:left + glyph] -= DEPTH * ink.clip(0, 1)
    return Image.fromarray(np.round(grey).astype(np.uint8))


def tally(files, y, saved):
    """Classify each picture file as --PREDICT does (digit.read_image, digit.prepare_digit
    given the file, the network of the weights file's dict `saved`) against its label in
    y: returns (right, wrong with a warning, wrong silently); a refused picture is wrong,
    with a warning."""
    activation = saved["config"].get("ACTIVATION", "relu")
    right = warned = silent = 0
    for path, label in zip(files, y):
        doubts = []
        try:
            x = digit.prepare_digit(digit.read_image(path), report=doubts.append, path=path)
            k = int(utils.predict_logits(saved["params"], x[None, :], activation,
                                         stats=saved["stats"]).argmax())
        except (ValueError, data.InputError):
            k, doubts = -1, ["refused"]
        right += k == label
        warned += k != label and bool(doubts)
        silent += k != label and not doubts
    return right, warned, silent


def table_head(column):
    """The two header lines of a table of tally's counts, its first column named."""
    return [f"| {column} | right | wrong, with a warning | wrong, silently |",
            "| ---: | ---: | ---: | ---: |"]


def table_row(what, value, files, y, saved, started):
    """tally's counts of the files as a table row of `value`, with a line on stderr saying
    how many were right and the seconds since `started` (time.perf_counter)."""
    right, warned, silent = tally(files, y, saved)
    print(f"{what} {value}: {right}/{len(y)} right, {time.perf_counter() - started:.1f}s",
          file=sys.stderr, flush=True)
    return f"| {value} | {right}/{len(y)} | {warned} | {silent} |"


def main(argv=None):
    parser = photos.arguments(__doc__.split("\n")[0], 20, "how many rows of the CSV per height")
    parser.add_argument("--heights", type=int, nargs="+", default=[30, 45, 60, 90, 150])
    parser.add_argument("--page", type=int, nargs=2, default=[4000, 3000], metavar=("W", "H"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    saved = runs.load_weights(args.weights)
    X, y = data.load_csv(args.csv, 9)
    X, y = X[:args.n], y[:args.n]
    rng = np.random.default_rng(args.seed)
    lines = [(f"{args.n} digits of {os.path.basename(args.csv)} per height on a "
              f"{args.page[0]}x{args.page[1]} JPEG page, weights {args.weights}"),
             *table_head("digit height (px)")]
    with tempfile.TemporaryDirectory() as scratch:
        for height in args.heights:
            start = time.perf_counter()
            files = [os.path.join(scratch, f"page-h{height}-{i:03d}.jpg") for i in range(len(X))]
            for row, path in zip(X, files):
                page_photo(row, height, (args.page[1], args.page[0]), rng).convert("RGB").save(
                    path, quality=90)
            lines.append(table_row("height", height, files, y, saved, start))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
