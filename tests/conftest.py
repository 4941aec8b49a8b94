"""Shared fixtures: the project root, a small slice of MNIST, CSV helpers, gradient checks.

Plain helper functions shared by several test files live in helpers.py beside
this file; both folders go on sys.path here, before any test file is imported.
"""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, Path(__file__).resolve().parent):  # the project's modules; helpers.py
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from helpers import head_lines

import data  # after the sys.path entries above
import diagnostics


def _write_csv(path, rows, header=None):
    """Write rows (lists of numbers) as a CSV; the default header is label,pixel0,..."""
    rows = [list(r) for r in rows]
    if header is None:
        header = ["label"] + [f"pixel{i}" for i in range(len(rows[0]) - 1)]
    lines = [",".join(header)] + [",".join(str(v) for v in r) for r in rows]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Path(path)


@pytest.fixture(scope="session")
def repo():
    """The project root (where main.py, utils.py and the CSVs are)."""
    return ROOT


@pytest.fixture(scope="session")
def head_csv():
    """head_csv(src, dst, n_rows): copy a CSV's header and first n_rows rows."""
    return head_lines


@pytest.fixture(scope="session")
def write_csv():
    """write_csv(path, rows, header=None): write a small CSV of numbers."""
    return _write_csv


@pytest.fixture(scope="session")
def mnist_small(tmp_path_factory):
    """(X uint8, y int64) of the first 3000 rows of train.csv, via data.load_csv."""
    path = head_lines(ROOT / "train.csv", tmp_path_factory.mktemp("mnist") / "train-3000.csv",
                      3000)
    X, y = data.load_csv(str(path))
    X.flags.writeable = False  # shared by the whole session: nobody may change it
    y.flags.writeable = False
    return X, y


@pytest.fixture(scope="session")
def gradient_errors():
    """gradient_errors(params, X, y, activation, masks, weight_decay) -> per layer, per
    parameter (relative error, norm of backward's gradient, norm of the finite differences):
    the product's own check, diagnostics.gradient_errors, which --GRADCHECK runs."""
    return diagnostics.gradient_errors


@pytest.fixture
def grad_problem():
    """grad_problem(layers, activation, seed, n, batch_norm): float64 params, X (n rows) and y
    with every class; biases, gammas and betas drawn away from their starting 0 and 1
    (diagnostics.check_problem, which --GRADCHECK checks on)."""
    return diagnostics.check_problem
