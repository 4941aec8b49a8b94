"""MNIST test digits as the pictures people take or draw, classified as --PREDICT does.

    python benchmarks/photos.py --weights runs/784-256-128-64-10/weights.pkl
    python benchmarks/photos.py --weights W.pkl --n 200 --keep /tmp/pictures

Each of the first --n rows of test.csv is drawn in every style below and
written as a real file (JPEG or PNG, as such a picture would come) to a
temporary folder; each file then goes through exactly the --PREDICT path
(digit.read_image, digit.prepare_digit, the network). The Markdown table
compares the accuracy on the pictures with the accuracy on the same digits
given as CSV rows. docs/inputs.md's table of pictures is this script's output.

Styles (sizes in pixels, drawn at random per digit from one seeded generator):
  paper   -- ink or pencil on evenly lit paper (grey 0.92, slightly warm;
             the ink's darkest grey 0.14 to 0.5), the digit 80-150 px tall in
             a photo of 260-380 x 240-340, JPEG quality 90
  shaded  -- the same, the paper's brightness falling from 0.92 to 0.82
             across the page in a random direction, JPEG
  noisy   -- the paper photo with Gaussian noise of standard deviation 0.02
             on the grey levels, PNG (so the noise stays as made)
  canvas  -- white strokes on a transparent canvas (RGBA, transparent
             pixels (0, 0, 0, 0)) of 280-400 px a side, the digit 120 px tall
             up to as tall as MNIST's on its canvas (20/28), PNG
  exif    -- the paper photo stored sideways or upside down with the EXIF
             orientation that shows it upright (6, 8 or 3 in turn), JPEG
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import data  # after the path is set
import digit
import runs
import utils

STYLES = ("paper", "shaded", "noisy", "canvas", "exif")
DESCRIBED = {"paper": "ink or pencil on evenly lit paper",
             "shaded": "shaded paper (0.92 to 0.82 across the page)",
             "noisy": "noise of sd 0.02 on the grey levels",
             "canvas": "white strokes on a transparent canvas",
             "exif": "a photo stored sideways with its EXIF orientation"}
PAPER, INK = 0.92, 0.14  # grey levels of lit paper and of the darkest ink (a black pen)
ORIENTATIONS = (6, 8, 3)  # EXIF: stored turned 90 degrees one way, the other, upside down
# what exif_transpose applies for each orientation, so the file stores its inverse
UPRIGHT = {6: Image.Transpose.ROTATE_270, 8: Image.Transpose.ROTATE_90,
           3: Image.Transpose.ROTATE_180}
STORED = {6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270,
          3: Image.Transpose.ROTATE_180}


def enlarge(row, height):
    """A 28x28 MNIST row enlarged (bicubic) so the 28-pixel side becomes `height`: ink 0..1."""
    small = Image.fromarray(np.asarray(row, dtype=np.uint8).reshape(28, 28))
    big = small.resize((height, height), Image.Resampling.BICUBIC)
    return np.asarray(big, dtype=np.float64) / 255


def place(ink, shape, rng):
    """The ink on a blank page of `shape`, at a random place where it fits whole."""
    page = np.zeros(shape)
    top = rng.integers(0, shape[0] - ink.shape[0] + 1)
    left = rng.integers(0, shape[1] - ink.shape[1] + 1)
    page[top:top + ink.shape[0], left:left + ink.shape[1]] = ink
    return page


def paper_photo(row, rng, shaded=False, noise=0.0):
    """A photo of the digit in ink or pencil on paper: an RGB uint8 array.

    The 28-pixel canvas is enlarged to 112-210 px (so the digit, 20/28 of it,
    is 80-150 px tall) and placed at random on a page of 240-340 x 260-380;
    the ink's darkest grey is 0.14 (a black pen) to 0.5 (a pencil).
    """
    ink = place(enlarge(row, int(rng.integers(112, 211))),
                (int(rng.integers(240, 341)), int(rng.integers(260, 381))), rng)
    darkest = rng.uniform(INK, 0.5)
    h, w = ink.shape
    light = np.full((h, w), PAPER)
    if shaded:  # falling from 0.92 to 0.82 across the page, in a random direction
        angle = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:h, 0:w]
        along = np.cos(angle) * xx + np.sin(angle) * yy
        along = (along - along.min()) / (along.max() - along.min())
        light = PAPER - 0.10 * along
    grey = light * (1 - (1 - darkest / PAPER) * ink)
    if noise:
        grey = grey + rng.normal(0, noise, grey.shape)
    rgb = np.clip(grey[..., None] * np.array([1.0, 0.98, 0.94]), 0, 1)  # warm paper
    return np.round(rgb * 255).astype(np.uint8)


def canvas_drawing(row, rng):
    """White strokes on a transparent canvas, as a drawing app exports them: RGBA uint8."""
    side = int(rng.integers(280, 401))
    ink = place(enlarge(row, int(rng.integers(168, side + 1))), (side, side), rng)
    alpha = np.round(ink * 255).astype(np.uint8)
    white = np.where(alpha > 0, 255, 0).astype(np.uint8)  # transparent pixels are (0,0,0,0)
    return np.dstack([white, white, white, alpha])


def write_picture(style, row, path_stem, rng, index=0):
    """Draw an MNIST row in a style and write it as a real file; return its path."""
    if style == "canvas":
        path = path_stem + ".png"
        Image.fromarray(canvas_drawing(row, rng)).save(path)
    elif style == "noisy":
        path = path_stem + ".png"
        Image.fromarray(paper_photo(row, rng, noise=0.02)).save(path)
    elif style in ("paper", "shaded"):
        path = path_stem + ".jpg"
        Image.fromarray(paper_photo(row, rng, shaded=style == "shaded")).save(
            path, quality=90)
    elif style == "exif":
        path = path_stem + ".jpg"
        orientation = ORIENTATIONS[index % len(ORIENTATIONS)]
        upright = Image.fromarray(paper_photo(row, rng))
        exif = Image.Exif()
        exif[0x0112] = orientation  # the Orientation tag
        upright.transpose(STORED[orientation]).save(path, quality=90, exif=exif)
    else:
        raise ValueError(style)
    return path


def predict_files(paths, saved):
    """Classify picture files exactly as --PREDICT does; return the predicted classes."""
    X = np.stack([digit.prepare_digit(digit.read_image(p), path=p) for p in paths])
    activation = saved["config"].get("ACTIVATION", "relu")
    return utils.predict_logits(saved["params"], X, activation,
                                stats=saved["stats"]).argmax(axis=1)


def arguments(description, n, n_help="how many rows of the CSV"):
    """The parser of the options a benchmark of pictures shares: --weights, --csv, --n."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--weights", default=os.path.join(ROOT, "runs", "784-256-128-64-10",
                                                          "weights.pkl"))
    parser.add_argument("--csv", default=os.path.join(ROOT, "test.csv"))
    parser.add_argument("--n", type=int, default=n, help=n_help)
    return parser


def main(argv=None):
    parser = arguments(__doc__.split("\n")[0], 1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", default="", help="write the pictures here and keep them")
    args = parser.parse_args(argv)
    saved = runs.load_weights(args.weights)
    X, y = data.load_csv(args.csv, 9)
    X, y = X[:args.n], y[:args.n]
    activation = saved["config"].get("ACTIVATION", "relu")
    rows_right = utils.predict_logits(saved["params"], X, activation).argmax(axis=1) == y
    rng = np.random.default_rng(args.seed)
    lines = ["| picture | file | accuracy on the pictures | the same digits as CSV rows | "
             + "difference |", "| --- | --- | ---: | ---: | ---: |"]
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or scratch
        os.makedirs(folder, exist_ok=True)
        for style in STYLES:
            start = time.perf_counter()
            paths = [write_picture(style, row, os.path.join(folder, f"{style}-{i:04d}"), rng, i)
                     for i, row in enumerate(X)]
            right = predict_files(paths, saved) == y
            kind = os.path.splitext(paths[0])[1][1:].upper().replace("JPG", "JPEG")
            lines.append(f"| {DESCRIBED[style]} | {kind} | {right.mean():.1%} | "
                         f"{rows_right.mean():.1%} | "
                         f"{100 * (right.mean() - rows_right.mean()):+.1f} points |")
            print(f"{style}: {right.sum()}/{len(y)} right, {time.perf_counter() - start:.1f}s",
                  file=sys.stderr, flush=True)
    print(f"{args.n} digits of {os.path.basename(args.csv)}, weights {args.weights}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
