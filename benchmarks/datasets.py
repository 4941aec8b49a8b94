"""The datasets of issue 22 rebuilt from the shipped MNIST, each trained through `python main.py`.

    python benchmarks/datasets.py                  # all, about 5 minutes on this machine
    python benchmarks/datasets.py --only idx emnist-fixed --rows 3000 --epochs 1

Run from the project root. The first --rows rows of train.csv (10,000 by
default) and the whole of test.csv are written, into --out (a temporary
folder by default), in the forms people bring: MNIST's IDX files (gzipped),
Keras' .npz, EMNIST's transposed CSV, class names as labels, labels 1..10,
14x14 grey, 32x32 colour (the digit's ink red or green by the label's
parity, on a blue-grey ground, stored planar as CIFAR-10 is), 89% of one
class, and a folder of class folders of PNGs. Each is trained with the
command printed, the default network but for its input width, --EPOCHS
epochs; the table gives the test accuracy main.py printed and the line(s)
it said about the data. The test file is the shipped test.csv in the same
form (upright, for the EMNIST rows).
"""

import argparse
import gzip
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import formats  # after the path is set
import images

NAMES = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])


def write_idx(path, A):
    """An IDX file of unsigned bytes, gzipped when the name ends in .gz."""
    raw = bytes([0, 0, 8, A.ndim]) + np.array(A.shape, ">u4").tobytes() + A.astype(np.uint8).tobytes()
    with (gzip.open(path, "wb") if path.endswith(".gz") else open(path, "wb")) as f:
        f.write(raw)


def write_csv(path, X, y):
    """label,pixel0,... one row per image."""
    frame = pd.DataFrame(X, columns=[f"pixel{j}" for j in range(X.shape[1])])
    frame.insert(0, "label", y)
    frame.to_csv(path, index=False)


def coloured(X, y):
    """32x32 colour, channels last: the digit framed by 2 pixels, red ink for even labels,
    green for odd, on a blue-grey ground."""
    grey = np.pad(X.reshape(-1, 28, 28), ((0, 0), (2, 2), (2, 2))).astype(np.float64) / 255
    odd = (y % 2 == 1)[:, None, None]
    rgb = np.stack([np.where(odd, 0.2, 1.0) * grey, np.where(odd, 1.0, 0.2) * grey,
                    0.3 * (1 - grey)], axis=3)
    return np.rint(rgb * 255).astype(np.uint8).reshape(len(X), -1)


def build(out, X, y, X_test, y_test):
    """Write every dataset into out; return {name: (train, test, extra settings, what it is)}."""
    def path(name):
        return os.path.join(out, name)

    write_csv(path("mnist.csv"), X, y)
    write_csv(path("mnist-test.csv"), X_test, y_test)
    write_idx(path("train-images-idx3-ubyte.gz"), X.reshape(-1, 28, 28))
    write_idx(path("train-labels-idx1-ubyte.gz"), y)
    write_idx(path("t10k-images-idx3-ubyte.gz"), X_test.reshape(-1, 28, 28))
    write_idx(path("t10k-labels-idx1-ubyte.gz"), y_test)
    np.savez(path("mnist.npz"), x_train=X.reshape(-1, 28, 28), y_train=y.astype(np.uint8),
             x_test=X_test.reshape(-1, 28, 28), y_test=y_test.astype(np.uint8))
    write_csv(path("emnist-train.csv"), images.transposed(X), y)
    write_csv(path("named.csv"), X, NAMES[y])
    write_csv(path("named-test.csv"), X_test, NAMES[y_test])
    write_csv(path("ones.csv"), X, y + 1)
    write_csv(path("ones-test.csv"), X_test, y_test + 1)

    def shrink(A):
        return np.rint(A.reshape(-1, 14, 2, 14, 2).mean(axis=(2, 4))).astype(np.uint8).reshape(len(A), -1)

    write_csv(path("mnist14.csv"), shrink(X), y)
    write_csv(path("mnist14-test.csv"), shrink(X_test), y_test)

    def planar(A):
        return A.reshape(-1, 32, 32, 3).transpose(0, 3, 1, 2).reshape(len(A), -1)

    write_csv(path("colour.csv"), planar(coloured(X, y)), y)
    write_csv(path("colour-test.csv"), planar(coloured(X_test, y_test)), y_test)
    ones = np.flatnonzero(y == 1)
    others = np.flatnonzero(y != 1)[: round(len(ones) * 11 / 89)]
    keep = np.sort(np.concatenate([ones, others]))
    write_csv(path("imbalanced.csv"), X[keep], y[keep])
    tree = path("pictures")
    for k in range(len(X)):
        os.makedirs(os.path.join(tree, str(y[k])), exist_ok=True)
        Image.fromarray(X[k].reshape(28, 28)).save(os.path.join(tree, str(y[k]), f"{k:05d}.png"))
    return {
        "csv": ("mnist.csv", "mnist-test.csv", [], "MNIST as CSV (the reference)"),
        "idx": ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz", [],
                "MNIST's IDX files, gzipped"),
        "npz": ("mnist.npz", "mnist.npz", [], "Keras' mnist.npz"),
        "emnist": ("emnist-train.csv", "mnist-test.csv", [],
                   "EMNIST-style: training images transposed, test upright"),
        "emnist-fixed": ("emnist-train.csv", "mnist-test.csv", ["--TRANSPOSED=train"],
                         "the same, TRANSPOSED=train"),
        "named": ("named.csv", "named-test.csv", [], "labels as names (zero..nine)"),
        "ones": ("ones.csv", "ones-test.csv", [], "labels 1..10"),
        "14x14": ("mnist14.csv", "mnist14-test.csv", ["--LAYERS=[196,256,128,64,10]"],
                  "14x14 grey (2x2 means)"),
        "colour": ("colour.csv", "colour-test.csv", ["--LAYERS=[3072,256,128,64,10]",
                                                      "--MAX_SHIFT=0"],
                   "32x32 colour, planar"),
        "imbalanced": ("imbalanced.csv", "mnist-test.csv", [], "89% of one class (1)"),
        "folder": ("pictures", "mnist-test.csv", [], "a folder of class folders of PNGs"),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--out", default="")
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="datasets-")
    os.makedirs(out, exist_ok=True)
    quiet = {"report": lambda line: None}
    X, y = formats.load_images(os.path.join(ROOT, "train.csv"), 9, **quiet)
    X_test, y_test = formats.load_images(os.path.join(ROOT, "test.csv"), 9, **quiet)
    sets = build(out, X[:args.rows], y[:args.rows], X_test, y_test)
    print("| data | test accuracy | what main.py said of the data | command |\n|---|---|---|---|")
    for name, (train, test, extra, what) in sets.items():
        if args.only and name not in args.only:
            continue
        settings = [f"--TRAIN_CSV={train}", f"--TEST_CSV={test}", f"--EPOCHS={args.epochs}",
                    *extra]
        result = subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), *settings],
                                cwd=out, capture_output=True, text=True, check=False)
        found = re.search(r"test accuracy ([\d.]+)%", result.stdout)
        said = [line for line in result.stdout.splitlines()
                if line.startswith((train, test, "warning", "TRANSPOSED", "MAX_SHIFT"))
                or "still at chance" in line]
        said = [re.sub(r"(numbered in alphabetical order: 0 \w+, 1 \w+).*", r"\1, ...", s)
                for s in said]
        score = f"{float(found.group(1)):.2f}%" if found else f"exit {result.returncode}"
        print(f"| {what} | {score} | {'<br>'.join(said) or '-'} | "
              f"`python main.py {' '.join(settings)}` |", flush=True)
    print(f"(files and runs in {out})")


if __name__ == "__main__":
    main()
