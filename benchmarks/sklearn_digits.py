"""scikit-learn's 8x8 digits trained through `python main.py`, with MLPClassifier beside it.

    python benchmarks/sklearn_digits.py              # about 1 minute
    python benchmarks/sklearn_digits.py --keep data  # keep the CSVs and the run in data/

scikit-learn ships the 1,797 8x8 digits of the UCI "optical recognition of
handwritten digits" set (load_digits: pixels 0..16). They are split with
train_test_split (test_size 0.25, stratified, random_state 0: 1,347 rows to
train on, 450 to test) and written as CSVs of label and 64 pixels 0..16, as
a user would bring them; main.py then trains on them with the command
printed (it recognises the 0..16 scale and scales it to 0..255, and scales
MAX_SHIFT to the 8-pixel side). On the same split, scikit-learn's
MLPClassifier (one hidden layer of 100 ReLU units, adam, its defaults, the
pixels divided by 16) gives the figure beside it. scikit-learn is used here
only (requirements-bench.txt); the trainer never imports it.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETTINGS = ["--LAYERS=[64,128,10]", "--EPOCHS=60", "--BATCH_SIZE=32", "--VAL_FRACTION=0.1"]


def write_csv(path, X, y):
    """label,pixel0..pixel63 and one row per image, the pixels as whole numbers."""
    lines = ["label," + ",".join(f"pixel{j}" for j in range(X.shape[1]))]
    lines += [f"{label}," + ",".join(str(int(v)) for v in row) for row, label in zip(X, y)]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", default="", help="a folder to keep the CSVs and run in")
    args = parser.parse_args(argv)
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                        random_state=0)
    folder = args.keep or tempfile.mkdtemp(prefix="digits8x8-")
    os.makedirs(folder, exist_ok=True)
    train, test = os.path.join(folder, "digits-train.csv"), os.path.join(folder, "digits-test.csv")
    write_csv(train, X_train, y_train)
    write_csv(test, X_test, y_test)
    command = [sys.executable, os.path.join(ROOT, "main.py"), f"--TRAIN_CSV={train}",
               f"--TEST_CSV={test}", *SETTINGS, f"--RUNS_DIR={os.path.join(folder, 'runs')}"]
    print("$ python main.py --TRAIN_CSV=digits-train.csv --TEST_CSV=digits-test.csv "
          + " ".join(SETTINGS))
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    said = [line for line in out.stdout.splitlines()
            if line.startswith((train, test, "MAX_SHIFT", "test accuracy"))]
    print("\n".join(f"  {line.replace(folder + os.sep, '')}" for line in said))
    found = re.search(r"test accuracy ([\d.]+)%", out.stdout)
    if out.returncode or not found:
        print(out.stdout[-2000:], out.stderr[-2000:], sep="\n")
        sys.exit(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(random_state=0).fit(X_train / 16, y_train)
    print(f"8x8 digits, {len(X_train)} train / {len(X_test)} test rows: main.py "
          f"{float(found.group(1)):.2f}% test; scikit-learn MLPClassifier "
          f"{100 * mlp.score(X_test / 16, y_test):.2f}% on the same split")
    print(f"(files in {folder})")


if __name__ == "__main__":
    main()
