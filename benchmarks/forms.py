"""How long each form of the same images takes to read, and a folder of PNGs.

    python benchmarks/forms.py                  # train.csv's 60,000 rows, 3 rounds (~1 min)
    python benchmarks/forms.py --rows 5000 --rounds 2 --pngs 1000   # quicker

Run from the project root. The first --rows rows of train.csv are written,
into a temporary folder, as MNIST's IDX files (plain and gzipped, the
labels beside them) and as an .npz archive (x_train/y_train); each form is
then read by formats.load_images, the reader main.py uses, round after
round with the forms interleaved (so a burst of load from elsewhere on this
shared machine falls on all alike), and every reading is checked to give
the very arrays the CSV gives. The medians are printed, with the CSV's time
over each form's.

Then the first --pngs rows are written as PNG files, one folder per class
(torchvision's ImageFolder layout), and read by folders.load_folder once,
timed, checked against the rows they were made from.
"""

import argparse
import gzip
import os
import statistics
import sys
import tempfile
import time

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import folders  # after the path is set
import formats


def write_idx(path, A):
    """Write an IDX file of unsigned bytes (gzipped when path ends in .gz)."""
    raw = bytes([0, 0, 8, A.ndim]) + np.array(A.shape, ">u4").tobytes() + A.astype(np.uint8).tobytes()
    with (gzip.open(path, "wb") if path.endswith(".gz") else open(path, "wb")) as f:
        f.write(raw)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", default=os.path.join(ROOT, "train.csv"))
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pngs", type=int, default=10_000)
    args = parser.parse_args(argv)
    quiet = lambda line: None
    with tempfile.TemporaryDirectory() as folder:
        csv_path = os.path.join(folder, "train.csv")
        with open(args.csv, encoding="utf-8") as f_in, open(csv_path, "w", encoding="utf-8") as f_out:
            for k, line in enumerate(f_in):
                if k > args.rows:
                    break
                f_out.write(line)
        X, y = formats.load_images(csv_path, 9, report=quiet)
        side = int(np.sqrt(X.shape[1]))
        paths = {"CSV": csv_path,
                 "IDX": os.path.join(folder, "train-images-idx3-ubyte"),
                 "IDX .gz": os.path.join(folder, "gz", "train-images-idx3-ubyte.gz"),
                 "npz": os.path.join(folder, "mnist.npz")}
        os.makedirs(os.path.join(folder, "gz"))
        write_idx(paths["IDX"], X.reshape(-1, side, side))
        write_idx(os.path.join(folder, "train-labels-idx1-ubyte"), y)
        write_idx(paths["IDX .gz"], X.reshape(-1, side, side))
        write_idx(os.path.join(folder, "gz", "train-labels-idx1-ubyte.gz"), y)
        np.savez(paths["npz"], x_train=X.reshape(-1, side, side), y_train=y.astype(np.uint8))
        seconds = {name: [] for name in paths}
        for _ in range(args.rounds):
            for name, path in paths.items():
                start = time.perf_counter()
                X_read, y_read = formats.load_images(path, 9, report=quiet)
                seconds[name].append(time.perf_counter() - start)
                assert np.array_equal(X_read, X) and np.array_equal(y_read, y), name
        print(f"reading the first {len(X):,} rows of {os.path.basename(args.csv)} "
              f"(median of {args.rounds} interleaved rounds; the same arrays from every form):")
        csv_median = statistics.median(seconds["CSV"])
        for name, times in seconds.items():
            median = statistics.median(times)
            print(f"  {name:8s} {median:7.3f} s   CSV / this: {csv_median / median:6.1f}x   "
                  f"(rounds: {', '.join(f'{t:.3f}' for t in times)})")
        n = min(args.pngs, len(X))
        tree = os.path.join(folder, "pictures")
        for k in range(n):
            label_folder = os.path.join(tree, str(y[k]))
            os.makedirs(label_folder, exist_ok=True)
            Image.fromarray(X[k].reshape(side, side)).save(os.path.join(label_folder, f"{k:05d}.png"))
        start = time.perf_counter()
        X_png, y_png = folders.load_folder(tree, quiet)
        took = time.perf_counter() - start
        order = np.lexsort((np.arange(n), y[:n].astype(str)))  # folder, then file name
        assert np.array_equal(X_png, X[:n][order]), "the PNGs read back differ"
        assert np.array_equal(y_png, y[:n][order])
        print(f"a folder of {n:,} PNGs in {len(set(y_png.tolist()))} class folders: "
              f"read in {took:.2f} s (the same pixels)")


if __name__ == "__main__":
    main()
