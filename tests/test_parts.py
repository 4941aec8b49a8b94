"""Smoke test of benchmarks/parts.py: a tiny run prints every row of its tables; its
alternatives do the same work as the project's functions they are timed against.

No test asserts a timing: only that each figure is there, as a number.
"""

import concurrent.futures
import importlib.util
import platform
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_quiet_when_the_reader_goes_away

import augment
import utils

ROOT = Path(__file__).resolve().parents[1]
TRAIN_CSV = ROOT / "train.csv"
PARTS = ROOT / "benchmarks" / "parts.py"


def load_parts():
    """benchmarks/parts.py as a module (it imports bench and runner from beside it)."""
    if str(PARTS.parent) not in sys.path:
        sys.path.insert(0, str(PARTS.parent))
    spec = importlib.util.spec_from_file_location("parts", PARTS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


parts = load_parts()
NUMBER = r"[0-9][0-9.,]*"


@pytest.mark.parametrize("other", ["textbook_update", "in_place_update"])
def test_the_alternative_updates_move_the_weights_as_utils_update_does(other):
    """At a constant learning rate each momentum step gives utils.update's weights, step by
    step; utils.update leaves the gradients as they were, the in-place form does not."""
    rng = np.random.default_rng(0)
    params = utils.init_params([6, 5, 3], rng, dtype=np.float64)
    twin = utils.copy_params(params)
    state, twin_state = utils.init_state(params), utils.init_state(twin)
    for _ in range(4):
        grads = [{k: rng.standard_normal(p.shape) for k, p in layer.items()} for layer in params]
        kept = utils.copy_params(grads)
        utils.update(params, grads, state, 0.1, "momentum", 0.9)
        for g, g0 in zip(grads, kept):
            for k in g:
                np.testing.assert_array_equal(g[k], g0[k])
        getattr(parts, other)(twin, grads, twin_state, 0.1, "momentum", 0.9)
        for layer, twin_layer in zip(params, twin):
            for k in layer:
                np.testing.assert_allclose(layer[k], twin_layer[k], rtol=1e-12, atol=1e-12)
    assert state["step"] == twin_state["step"] == 4
    with pytest.raises(ValueError):
        getattr(parts, other)(twin, grads, twin_state, 0.1, "adam")


@pytest.mark.parametrize("k", [1, 2, 3])
def test_shift_by_indexing_gives_random_shifts_images(k):
    """The same generator state gives the same shifted images both ways, uint8 and float."""
    X = np.random.default_rng(k).integers(0, 256, size=(50, 784), dtype=np.uint8)
    for batch in (X, X.astype(np.float32)):
        ours = augment.random_shift(batch, k, np.random.default_rng(7))
        theirs = parts.shift_by_indexing(batch, k, np.random.default_rng(7))
        assert theirs.dtype == ours.dtype and theirs.shape == ours.shape
        np.testing.assert_array_equal(theirs, ours)
    assert not np.array_equal(ours, X)  # some image did move


@pytest.mark.skipif(not TRAIN_CSV.exists(), reason="needs train.csv in the project root")
def test_quick_run_prints_every_row(tmp_path):
    """--quick on 1000 rows exits 0 and prints each table with every row filled in. (--training
    adds three child runs of main.py, 6 s more: its rows are left to the benchmark's own run.)"""
    lines = TRAIN_CSV.read_text(encoding="utf-8").splitlines(keepends=True)[:1501]
    small, small_test = tmp_path / "small.csv", tmp_path / "small_test.csv"
    small.write_text("".join(lines[:1001]), encoding="utf-8")
    small_test.write_text(lines[0] + "".join(lines[1001:]), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(PARTS), "--quick", "--csv", str(small),
         "--test-csv", str(small_test)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for name in ("command", "machine", "NumPy, BLAS", "OPENBLAS_CORETYPE", "date"):
        assert re.search(rf"^\| {re.escape(name)} \| .+ \|$", out, re.MULTILINE), (name, out)
    us, x = rf"{NUMBER} us", rf"\*\*{NUMBER}x\*\* \({NUMBER}-{NUMBER}\)"
    expected = [
        rf"training step .* \| float32 \| {us} \| float64 \| {us} \| {x}",
        rf"training step, momentum \| .* \| {us} \| textbook .* \| {us} \| {x}",
        rf"the update alone, momentum \| .* \| {us} \| textbook .* \| {us} \| {x}",
        rf"shifts of up to 1 pixel.* \| {us} \| fancy indexing .* \| {us} \| {x}",
    ]
    for way in ("uint8", "int64"):
        expected += [
            (rf"reading the CSV: peak RSS .* \| {NUMBER} MB \(\+{NUMBER} MB\) \| `pd.read_csv, {way}` .* \| "
            rf"{NUMBER} MB \(\+{NUMBER} MB\) \| ({NUMBER}x the rise|-)"),
            (rf"reading the CSV: seconds \| `data.load_csv` \| {NUMBER} s \| "
            rf"`pd.read_csv, {way}` \| {NUMBER} s \| {NUMBER}x")]
    for name in ("fetch the batch", "shift it", "scale it", "forward matrix products (4)",
                 "bias + ReLU", "loss, its gradient", "backward matrix products (7)",
                 "backward masks and sums", "update (utils.update", "utils.train_step, whole",
                 "one batch of utils.train_epoch", "sum of the parts above",
                 "of which the 11 matrix products", "least: one pass over the weights",
                 "the products, the distortions and the least work above"):
        expected.append(rf"{re.escape(name)}.* \| {NUMBER} \| {NUMBER}%")
    share = rf"{NUMBER}% \(-?{NUMBER}--?{NUMBER}\)"
    expected += [rf"training step of 784-250-200-10, batch 128 .* \| {NUMBER} ms \| 100%",
                 rf"affine distortions .* \| {NUMBER} ms \| {share}",
                 rf"affine and elastic .* \| {NUMBER} ms \| {share}",
                 rf"of which the elastic part .* \| -?{NUMBER} ms \| -?{share}",
                 rf"fields, matrix products .* \| {NUMBER} / {NUMBER} ms \| {x}",
                 rf"resample, NumPy gather .* \| {NUMBER} / {NUMBER} ms \| {x}"]
    for pattern in expected:
        assert re.search(rf"^\| {pattern} \|$", out, re.MULTILINE), (pattern, out)


def test_the_scipy_alternatives_give_augments_numbers():
    """parts.py's map_coordinates and gaussian_filter read and smooth as augment.py does."""
    rng = np.random.default_rng(6)
    images = rng.integers(0, 256, (5, 28, 28)).astype(np.float32)
    src_y, src_x = rng.uniform(-3, 31, (2, 5, 28, 28))
    np.testing.assert_allclose(parts.resample_by_map_coordinates(images, src_y, src_x),
                               augment.resample(images, src_y, src_x), atol=1e-3)
    np.testing.assert_allclose(parts.smooth_by_ndimage(5, 28, 36.0, 6.0, np.random.default_rng(1)),
                               augment.elastic_fields(5, 28, 36.0, 6.0, np.random.default_rng(1)),
                               atol=1e-4)


@pytest.mark.parametrize("side", ["keep"])
def test_the_malloc_child_trains_and_says_whether_the_call_took(tmp_path, side):
    """Section 9's child (--malloc): trains a batch of the default network and prints whether
    keep_freed_memory took (never for the side that does not call it) and a time per batch."""
    lines = TRAIN_CSV.read_text(encoding="utf-8").splitlines(keepends=True)[:301]
    small = tmp_path / "small.csv"
    small.write_text("".join(lines), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", parts.MALLOC_CHILD, str(PARTS.parent), "", str(small), "300",
         side, "1", "1", "1"], cwd=ROOT, capture_output=True, text=True, timeout=120,
        check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    kept, seconds = done.stdout.split()
    assert kept == ("True" if side == "keep" and platform.libc_ver()[0] == "glibc" else "False")
    assert float(seconds) > 0
    rows = list(parts.malloc_rows({"default": {"keep": [float(seconds)],
                                               "default": [2 * float(seconds)]}}, True))
    assert re.fullmatch(rf"\| a batch of the default network, kept / returned \| {NUMBER} ms \| "
                        rf"{NUMBER} ms \| \*\*2.00x\*\* \(2.00-2.00\) \|", rows[0]), rows


def quick_section(tmp_path, section):
    """`parts.py --quick <section>` on the first 600 rows of train.csv: its output, after
    checking that it exited 0."""
    lines = TRAIN_CSV.read_text(encoding="utf-8").splitlines(keepends=True)[:601]
    small = tmp_path / "small.csv"
    small.write_text("".join(lines), encoding="utf-8")
    done = subprocess.run([sys.executable, str(PARTS), "--quick", section, "--csv", str(small)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_a_reader_that_goes_away_is_no_traceback(tmp_path):
    """parts.py --quick --record | head -1: the run ends quietly with 141, as main.py does."""
    lines = TRAIN_CSV.read_text(encoding="utf-8").splitlines(keepends=True)[:601]
    small = tmp_path / "small.csv"
    small.write_text("".join(lines), encoding="utf-8")
    assert_quiet_when_the_reader_goes_away([PARTS, "--quick", "--record", "--csv", small], ROOT)


def test_the_record_steps_parts_include_its_dropout(tmp_path):
    """--record --quick: section 5 for recipes/record.py's settings (a smaller network), with
    the dropout as a part of its own and the distortions as the augmentation."""
    done = quick_section(tmp_path, "--record")
    for name in ("shift it (main.py's augmentation)", "forward matrix products (3)",
                 "backward matrix products (5)", "dropout (masks, forward and backward)",
                 "update (utils.update", "one batch of utils.train_epoch",
                 "of which the 8 matrix products", "least: one pass over the weights",
                 "least: dropout's random numbers alone",
                 "the products, the distortions and the least work above"):
        assert re.search(rf"^\| {re.escape(name)}.* \| {NUMBER} \| {NUMBER}% \|$", done.stdout,
                         re.MULTILINE), (name, done.stdout)


def test_the_step_tables_bound_adds_the_least_work_to_the_products_and_distortions():
    """The least-work rows stay out of the parts' sum; the bound row is the products, the
    distortions and the least work, as a multiple of the products."""
    us = {"shift it (main.py's augmentation)": 20.0, "forward matrix products (2)": 30.0,
          "backward matrix products (3)": 50.0, "update (utils.update, momentum)": 40.0,
          "one batch of utils.train_epoch (of 20), whole": 200.0,
          "least: one pass over the weights, W += V": 10.0,
          "least: dropout's random numbers alone": 6.0}
    rows = list(parts.part_rows(us))
    assert rows[-5:] == ["| sum of the parts above | 140 | 70% |",
                         "| of which the 5 matrix products | 80 | 40% |",
                         "| least: one pass over the weights, W += V | 10 | 5% |",
                         "| least: dropout's random numbers alone | 6 | 3% |",
                         ("| the products, the distortions and the least work above "
                          "(**1.45x** the products) | 116 | 58% |")]
    without = {k: v for k, v in us.items() if not k.startswith(("least:", "shift it"))}
    assert list(parts.part_rows(without))[-1] == "| of which the 5 matrix products | 80 | 40% |"
    without["least: one pass over the weights, W += V"] = 10.0
    assert list(parts.part_rows(without))[-1] == ("| the products and the least work above "
                                                  "(**1.12x** the products) | 90 | 45% |")


@pytest.mark.parametrize("prefetch, split", [("update", False), (None, True), ("update", True),
                                             ("products", False)])
def test_the_overlapped_epochs_train_exactly_as_train_epoch(prefetch, split):
    """Section 10's epochs (the next batch prepared on a thread, the update in halves on two)
    end with utils.train_epoch's weights and velocities to the last bit, on the record
    recipe's distortions and dropout, for two epochs of a small network."""
    record = {**parts.bench.recipe_config(parts.RECORD), "LAYERS": [784, 24, 16, 10],
              "BATCH_SIZE": 32}
    rng = np.random.default_rng(2)
    X = rng.integers(0, 256, (100, 784), dtype=np.uint8)  # 4 batches, the last of 4 rows
    y = rng.integers(0, 10, 100)
    ends = []
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for overlapped in (False, True):
            run_rng = np.random.default_rng(record["SEED"])
            params, lr_at = parts.main.setup(record, len(X), run_rng)
            state, augment_with = utils.init_state(params), augment.augmentation(record)
            for _ in range(2):
                if overlapped:
                    parts.overlapped_epoch(params, state, X, y, record, run_rng, lr_at,
                                           augment_with, pool, prefetch, split)
                else:
                    utils.train_epoch(params, state, X, y, record["BATCH_SIZE"], run_rng, lr_at,
                                      augment_with, **parts.settings.step_options(record))
            ends.append((params, state, run_rng.random()))
    (ours, our_state, our_next), (theirs, their_state, their_next) = ends
    assert our_state["step"] == their_state["step"] == 8
    assert our_next == their_next  # the generator drew as many numbers, in the same order
    for a, b, va, vb in zip(ours, theirs, our_state["velocity"], their_state["velocity"]):
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
            np.testing.assert_array_equal(va[k], vb[k])


def test_the_overlap_section_prints_each_way(tmp_path):
    """--overlap --quick: section 10's table, a time per batch and a speed-up for each way."""
    done = quick_section(tmp_path, "--overlap")
    for name in ("`utils.train_epoch`", "next batch prepared beside the update",
                 "update in two halves at once", "both",
                 "next batch prepared beside the products"):
        assert re.search(rf"^\| {re.escape(name)} \| {NUMBER} ms \| \*\*{NUMBER}x\*\* "
                         rf"\({NUMBER}-{NUMBER}\) \|$", done.stdout, re.MULTILINE), (name, done.stdout)
