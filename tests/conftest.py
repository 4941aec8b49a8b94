"""Shared fixtures: the project root, a small slice of MNIST, CSV helpers, gradient checks.

Plain helper functions shared by several test files live in helpers.py beside
this file; both folders go on sys.path here, before any test file is imported.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, Path(__file__).resolve().parent):  # the project's modules; helpers.py
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from helpers import head_lines

import data  # after the sys.path entries above
import utils


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


def relative_error(a, b):
    """|a - b| / (|a| + |b|) in the L2 norm over the whole array (0 when both are 0)."""
    num = np.linalg.norm(a - b)
    return float(num / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300))


def _gradient_errors(params, X, y, activation="relu", masks=None, weight_decay=0.0,
                     eps=1e-6):
    """Compare backward's gradients with central finite differences of the loss.

    The loss is cross_entropy(forward(...)) + l2_penalty(params, weight_decay),
    with the same dropout masks in every forward pass, in training mode (a
    layer with batch normalisation uses the batch's statistics). Returns a
    list with one tuple per layer, holding one (relative error, norm of the
    analytic gradient) pair per parameter of the layer: (W, b) or (W, gamma,
    beta). The norms let a test refuse an all-zero check.
    """
    def loss():
        Z, _ = utils.forward(params, X.copy(), activation, masks)
        return utils.cross_entropy(Z, y) + utils.l2_penalty(params, weight_decay)

    Z, cache = utils.forward(params, X.copy(), activation, masks)
    _, dZ = utils.softmax_cross_entropy(Z, y)
    analytic = utils.backward(params, cache, dZ, activation, weight_decay=weight_decay)
    out = []
    for layer, layer_grads in zip(params, analytic):
        assert len(layer_grads) == len(layer)
        row = []
        for p, g in zip(layer, layer_grads):
            numeric = np.zeros_like(p)
            for idx in np.ndindex(p.shape):
                old = p[idx]
                p[idx] = old + eps
                up = loss()
                p[idx] = old - eps
                down = loss()
                p[idx] = old
                numeric[idx] = (up - down) / (2 * eps)
            row.append((relative_error(g, numeric), float(np.linalg.norm(g))))
        out.append(tuple(row))
    return out


@pytest.fixture(scope="session")
def gradient_errors():
    """gradient_errors(params, X, y, activation, masks, weight_decay) -> per-layer errors."""
    return _gradient_errors


@pytest.fixture
def grad_problem():
    """grad_problem(layers, activation, seed, n, batch_norm): float64 params, X (n rows) and y
    with every class. Biases, gammas and betas are drawn away from their starting 0 and 1,
    so that a gradient mixed up between them would show."""
    def make(layers, activation="relu", seed=0, n=12, batch_norm=False):
        rng = np.random.default_rng(seed)
        params = utils.init_params(layers, rng, utils.default_init(activation),
                                   dtype=np.float64, batch_norm=batch_norm)
        params = [(W, rng.normal(0, 0.1, rest[0].shape)) if len(rest) == 1 else
                  (W, rng.normal(1, 0.3, rest[0].shape), rng.normal(0, 0.3, rest[1].shape))
                  for W, *rest in params]
        X = rng.standard_normal((n, layers[0]))
        y = rng.permutation(np.arange(n) % layers[-1])
        return params, X, y
    return make
