"""A smoke test of benchmarks/bench.py: a tiny run ends with a sound headline."""

import itertools
import math
import re
import subprocess
import sys
from pathlib import Path

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
