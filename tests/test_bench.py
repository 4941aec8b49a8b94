"""Smoke tests of the benchmarks: bench.py ends with a sound headline, photos.py prints its
table."""

import itertools
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TRAIN_CSV = ROOT / "train.csv"


@pytest.mark.skipif(not TRAIN_CSV.exists(), reason="needs train.csv in the project root")
def test_quick_bench_prints_a_headline_with_a_positive_ratio(tmp_path):
    """--quick on the first 2000 rows of train.csv exits 0 and prints the headline."""
    small = tmp_path / "small.csv"
    with TRAIN_CSV.open(encoding="utf-8") as src, small.open("w", encoding="utf-8") as dst:
        dst.writelines(itertools.islice(src, 2001))  # the header and 2000 rows
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--quick", "--no-torch",
         "--no-memory", "--csv", str(small)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    headlines = [line for line in done.stdout.splitlines() if line.startswith("headline:")]
    assert len(headlines) == 1, done.stdout
    assert headlines[0] == done.stdout.rstrip("\n").splitlines()[-1]
    match = re.search(r"= ([0-9.]+)x matmul floor", headlines[0])
    assert match, headlines[0]
    ratio = float(match.group(1))
    assert math.isfinite(ratio)
    assert ratio > 0


def test_photos_prints_a_table_of_the_five_pictures(tmp_path):
    """benchmarks/photos.py on 3 digits with untrained weights: a Markdown table, one row
    per picture style, the CSV rows' accuracy the same in every row."""
    sys.path.insert(0, str(ROOT))
    import runs
    import utils

    weights = tmp_path / "w.pkl"
    runs.save_weights(str(weights), {"layers": [784, 16, 10], "config": {},
                                     "params": utils.init_params([784, 16, 10],
                                                                 np.random.default_rng(0))})
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "photos.py"), "--n", "3",
         "--weights", str(weights), "--keep", str(tmp_path / "pictures")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")][2:]
    assert len(rows) == 5, done.stdout
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    assert [c[1] for c in cells] == ["JPEG", "JPEG", "PNG", "PNG", "JPEG"]
    assert len({c[3] for c in cells}) == 1
    for c in cells:
        assert re.fullmatch(r"\d+\.\d%", c[2]) and re.fullmatch(r"[+-]\d+\.\d points", c[4])
    assert len(list((tmp_path / "pictures").iterdir())) == 15
