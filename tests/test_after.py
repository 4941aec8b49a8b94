"""Issue 6: after training -- confusion matrix, mistakes, comparison, predicting a digit.

The unit tests call utils directly; the end-to-end ones run `python main.py`
on a small slice of MNIST with every output under a temporary folder. One
training run is shared by the tests that only read what it wrote.
"""

import itertools
import re
import subprocess
import sys
from pathlib import Path

import hypothesis
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import data  # after the sys.path entry above
import digit
import plots
import runs
import utils

MAIN = ROOT / "main.py"
PNG = b"\x89PNG\r\n\x1a\n"  # the first bytes of every PNG file
MAX_PICTURE_BYTES = 200_000


def run_cli(cwd, *args, timeout=120):
    """Run `python main.py args` in cwd as a real subprocess; return its CompletedProcess."""
    return subprocess.run([sys.executable, str(MAIN), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, check=False)


def assert_one_line_error(result, prefix):
    """Exit status 2 and exactly one line `error: <prefix>...` on stderr, no traceback."""
    assert result.returncode == 2, (result.stdout[-500:], result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1, f"stderr is not one line: {result.stderr!r}"
    assert result.stderr.endswith("\n")
    assert result.stderr.startswith(f"error: {prefix}"), result.stderr
    return result.stderr[len("error: "):].rstrip("\n")


def assert_small_png(path):
    content = Path(path).read_bytes()
    assert content[:8] == PNG, f"{path} is not a PNG"
    assert len(content) < MAX_PICTURE_BYTES, f"{path} is {len(content)} bytes"


def head_lines(src, dst, n_rows):
    """Copy the header and the first n_rows rows of CSV src to dst."""
    with open(src, encoding="utf-8") as f_in, open(dst, "w", encoding="utf-8") as f_out:
        f_out.writelines(itertools.islice(f_in, n_rows + 1))
    return Path(dst)


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    """Small slices of the real data: the first 1000 training and 300 test rows."""
    folder = tmp_path_factory.mktemp("mnist-after")
    return {"train": head_lines(ROOT / "train.csv", folder / "train-1000.csv", 1000),
            "test": head_lines(ROOT / "test.csv", folder / "test-300.csv", 300)}


def data_args(mnist, folder):
    return (f"--TRAIN_CSV={mnist['train']}", f"--TEST_CSV={mnist['test']}",
            f"--RUNS_DIR={folder / 'runs'}", f"--IMAGES_DIR={folder / 'images'}")


@pytest.fixture(scope="module")
def trained(mnist, tmp_path_factory):
    """One end-to-end run of a small network; its folder and CompletedProcess."""
    folder = tmp_path_factory.mktemp("trained")
    result = run_cli(folder, *data_args(mnist, folder), "--LAYERS=[784,16,10]", "--EPOCHS=2")
    return folder, result


# ----------------------------------------------------------------------------
# confusion matrix and mistakes (units)


def test_confusion_matrix_of_a_known_case():
    y = np.array([0, 1, 2, 2, 1, 0])
    pred = np.array([0, 2, 2, 1, 1, 0])
    C = utils.confusion_matrix(y, pred, 3)
    np.testing.assert_array_equal(C, [[2, 0, 0], [0, 1, 1], [0, 1, 1]])


@hypothesis.settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(n=st.integers(1, 60), k=st.integers(2, 10), seed=st.integers(0, 2**32 - 1))
def test_confusion_matrix_sums_to_rows_and_its_trace_is_the_accuracy(n, k, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    Z = rng.standard_normal((n, k))
    right = rng.random(n) < 0.5
    Z[right] += 10 * np.eye(k)[y[right]]  # about half the rows predicted right
    pred = Z.argmax(axis=1)
    C = utils.confusion_matrix(y, pred, k)
    assert C.shape == (k, k)
    assert C.sum() == n
    assert np.trace(C) / n == pytest.approx(utils.accuracy(Z, y), abs=1e-12)
    np.testing.assert_array_equal(C.sum(axis=1), np.bincount(y, minlength=k))
    np.testing.assert_array_equal(C.sum(axis=0), np.bincount(pred, minlength=k))


def random_probabilities(n, k, rng):
    Z = rng.standard_normal((n, k)) * 2
    return utils.softmax(Z)


def test_plot_mistakes_shows_wrong_predictions_most_confident_first(tmp_path):
    rng = np.random.default_rng(3)
    n, k = 60, 10
    X = rng.integers(0, 256, (n, 784), dtype=np.uint8)
    P = random_probabilities(n, k, rng)
    pred = P.argmax(axis=1)
    y = np.where(rng.random(n) < 0.4, pred, (pred + rng.integers(1, k, n)) % k)
    wrong = np.flatnonzero(pred != y)
    assert len(wrong) > 24  # enough mistakes that the cut at `count` matters
    path = tmp_path / "mistakes.png"
    shown = np.asarray(plots.plot_mistakes(X, y, P, "test", str(path), count=24))
    assert len(shown) == 24
    assert len(set(shown.tolist())) == 24
    assert (pred[shown] != y[shown]).all(), "a correct prediction is shown as a mistake"
    confidence = P[shown, pred[shown]]
    assert (np.diff(confidence) <= 0).all(), "not sorted by decreasing confidence"
    not_shown = np.setdiff1d(wrong, shown)
    assert P[not_shown, pred[not_shown]].max() <= confidence.min(), "a surer mistake is missing"
    assert_small_png(path)


def test_plot_mistakes_with_few_or_no_mistakes(tmp_path):
    rng = np.random.default_rng(4)
    X = rng.integers(0, 256, (10, 784), dtype=np.uint8)
    P = random_probabilities(10, 10, rng)
    y = P.argmax(axis=1)
    y[[2, 7]] = (y[[2, 7]] + 1) % 10
    shown = np.asarray(plots.plot_mistakes(X, y, P, "two", str(tmp_path / "two.png")))
    assert sorted(shown.tolist()) == [2, 7]
    assert_small_png(tmp_path / "two.png")
    y = P.argmax(axis=1)
    shown = np.asarray(plots.plot_mistakes(X, y, P, "none", str(tmp_path / "none.png")))
    assert len(shown) == 0
    assert_small_png(tmp_path / "none.png")


# ----------------------------------------------------------------------------
# a run's pictures, and COMPARE (end to end)


def test_run_exits_0(trained):
    _, result = trained
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name", ["confusion-784-16-10.png", "mistakes-784-16-10.png",
                                  "curves-784-16-10.png"])
def test_run_draws_small_pngs(trained, name):
    folder, _ = trained
    assert_small_png(folder / "images" / name)


def test_printed_test_accuracy_is_that_of_the_saved_weights(trained, mnist):
    folder, result = trained
    printed = re.findall(r"^test accuracy ([\d.]+)% .*\b300 rows", result.stdout, re.MULTILINE)
    assert len(printed) == 1, result.stdout
    saved = runs.load_weights(str(folder / "runs" / "784-16-10.pkl"))
    X, y = data.load_csv(str(mnist["test"]))
    Z = utils.predict_logits(saved["params"], X)
    C = utils.confusion_matrix(y, Z.argmax(axis=1), 10)
    assert C.sum() == 300
    assert float(printed[0]) == pytest.approx(100 * np.trace(C) / 300, abs=0.006)
    assert saved["test_accuracy"] == pytest.approx(np.trace(C) / 300)


def test_compare_two_architectures_writes_picture_and_table(mnist, tmp_path):
    result = run_cli(tmp_path, *data_args(mnist, tmp_path), "--COMPARE=[[784,10],[784,16,10]]",
                     "--EPOCHS=2")
    assert result.returncode == 0, result.stderr
    assert_small_png(tmp_path / "images" / "compare.png")
    lines = (tmp_path / "images" / "compare.md").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("| layers |")
    assert re.fullmatch(r"\|( ?-+:? \|)+", lines[1]), lines[1]
    rows = lines[2:]
    assert len(rows) == 2, lines
    number, percent = r"\d+\.\d", r"\d+\.\d\d%"
    assert re.fullmatch(rf"\| 784-10 \| 7,850 \| {number} \| {percent} \| {percent} \|",
                        rows[0]), rows[0]
    assert re.fullmatch(rf"\| 784-16-10 \| 12,730 \| {number} \| {percent} \| {percent} \|",
                        rows[1]), rows[1]
    for stem in ("784-10", "784-16-10"):
        assert runs.load_weights(str(tmp_path / "runs" / f"{stem}.pkl"))["layers"] == [
            int(n) for n in stem.split("-")]


# ----------------------------------------------------------------------------
# preparing a drawn digit


def draw(shape, h=90, w=70):
    """A dark-on-light (h, w) grey picture of a digit-like shape, off centre; 1 is white."""
    yy, xx = np.mgrid[0:h, 0:w]
    if shape == "ring":  # a thick 0, up and to the left
        r = np.hypot(yy - 30, xx - 22)
        ink = (r >= 9) & (r <= 15)
    elif shape == "seven":  # a top bar and a slanted stroke, down and to the right
        bar = (yy >= 30) & (yy < 36) & (xx >= 34) & (xx < 66)
        stroke = (yy >= 30) & (yy < 86) & (np.abs(xx - (66 - (yy - 30) * 24 / 56)) < 3)
        ink = bar | stroke
    elif shape == "bar-and-dot":  # a long bar with a small far mark: centring shifts a lot
        ink = (((yy >= 10) & (yy < 80) & (xx >= 60) & (xx < 66))
               | ((yy >= 40) & (yy < 44) & (xx >= 5) & (xx < 9)))
    else:
        raise ValueError(shape)
    return np.where(ink, 0.0, 1.0)


def as_kind(grey, kind):
    """The grey picture as matplotlib may return it: float RGB, RGBA, uint8 RGB, grey."""
    rgb = np.repeat(grey[..., None], 3, axis=2)
    if kind == "rgb-float":
        return rgb
    if kind == "rgba-float":
        return np.dstack([rgb, np.ones_like(grey)])
    if kind == "rgb-uint8":
        return np.round(rgb * 255).astype(np.uint8)
    if kind == "grey-float":
        return grey
    raise ValueError(kind)


def ink_box(x):
    """The height and width of the bounding box of the non-zero pixels of a 28x28 image."""
    rows = np.flatnonzero(x.any(axis=1))
    cols = np.flatnonzero(x.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def centre_of_mass(x):
    x = x.astype(np.float64)
    return ((x.sum(axis=1) @ np.arange(28)) / x.sum(), (x.sum(axis=0) @ np.arange(28)) / x.sum())


def assert_mnist_like(flat):
    assert flat.shape == (784,)
    assert flat.dtype == np.uint8
    assert flat.min() == 0
    assert flat.max() == 255
    x = flat.reshape(28, 28)
    for corner in (x[:2, :2], x[:2, -2:], x[-2:, :2], x[-2:, -2:]):
        assert (corner == 0).all(), "the background is not 0 (ink must be bright)"
    assert np.mean(x == 0) > 0.5, "most of the picture should be dark background"
    cy, cx = centre_of_mass(x)
    assert abs(cy - 13.5) <= 1, f"centre of mass row {cy}"
    assert abs(cx - 13.5) <= 1, f"centre of mass column {cx}"
    height, width = ink_box(x)
    assert height <= 21, f"ink is {height} rows high, more than the 20-pixel box"
    assert width <= 21, f"ink is {width} columns wide, more than the 20-pixel box"
    assert max(height, width) >= 19, "the digit was not scaled up to the 20-pixel box"


@pytest.mark.parametrize("kind", ["rgb-float", "rgba-float", "rgb-uint8", "grey-float"])
@pytest.mark.parametrize("shape", ["ring", "seven"])
def test_prepare_digit_makes_an_mnist_like_row(shape, kind):
    assert_mnist_like(digit.prepare_digit(as_kind(draw(shape), kind)))


@pytest.mark.parametrize("shape", ["ring", "seven"])
def test_prepare_digit_light_on_dark_gives_the_same_polarity(shape):
    dark_on_light = digit.prepare_digit(as_kind(draw(shape), "rgb-float"))
    light_on_dark = digit.prepare_digit(as_kind(1 - draw(shape), "rgb-float"))
    assert_mnist_like(light_on_dark)
    assert np.abs(light_on_dark.astype(int) - dark_on_light).max() <= 1


def test_prepare_digit_never_wraps_ink_around_the_edges():
    """Centring by mass may push ink towards an edge; it must not reappear on the other side."""
    x = digit.prepare_digit(as_kind(draw("bar-and-dot"), "rgb-float")).reshape(28, 28)
    height, width = ink_box(x)
    assert height <= 21
    assert width <= 21, f"ink spans {width} columns: it wrapped around the picture's edge"


# ----------------------------------------------------------------------------
# --PREDICT


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A weights file of a [784, 16, 10] network, saved directly (no training)."""
    path = tmp_path_factory.mktemp("weights") / "w.pkl"
    layers = [784, 16, 10]
    runs.save_weights(str(path), {"layers": layers, "config": {"ACTIVATION": "relu"},
                                   "params": utils.init_params(layers,
                                                               np.random.default_rng(5))})
    return path


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory):
    """A PNG of a synthetic 7, written with matplotlib."""
    import matplotlib.pyplot as plt  # only the PNG needs it

    path = tmp_path_factory.mktemp("png") / "seven.png"
    plt.imsave(path, draw("seven"), cmap="gray", vmin=0, vmax=1)
    return path


def test_predict_a_png_prints_the_three_likeliest_digits(tmp_path, weights, digit_png):
    import matplotlib.image  # only this test reads the PNG back

    result = run_cli(tmp_path, f"--PREDICT={digit_png}", f"--WEIGHTS={weights}")
    assert result.returncode == 0, result.stderr
    lines = re.findall(r"^\s+(\d): (\d+\.\d)%$", result.stdout, re.MULTILINE)
    assert len(lines) == 3, result.stdout
    digits = [int(d) for d, _ in lines]
    percents = [float(p) for _, p in lines]
    assert len(set(digits)) == 3
    assert all(0 <= d <= 9 for d in digits)
    assert percents == sorted(percents, reverse=True)
    assert sum(percents) <= 100.15
    # the same numbers as the network gives for the prepared picture
    saved = runs.load_weights(str(weights))
    x = digit.prepare_digit(matplotlib.image.imread(digit_png))
    P = utils.softmax(utils.predict_logits(saved["params"], x[None, :]))[0]
    expected = np.argsort(-P, kind="stable")[:3]
    assert digits == expected.tolist()
    np.testing.assert_allclose(percents, 100 * P[expected], atol=0.051)


def test_predict_a_csv_writes_predictions(tmp_path, weights, mnist):
    csv_path = head_lines(mnist["test"], tmp_path / "some-digits.csv", 25)
    result = run_cli(tmp_path, f"--PREDICT={csv_path}", f"--WEIGHTS={weights}",
                     f"--RUNS_DIR={tmp_path / 'runs'}")
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "runs" / "some-digits-predictions.csv").read_text(
        encoding="utf-8").splitlines()
    assert lines[0] == "ImageId,Label"
    assert [int(line.split(",")[0]) for line in lines[1:]] == list(range(1, 26))
    labels = [int(line.split(",")[1]) for line in lines[1:]]
    X, _ = data.load_csv(str(csv_path))
    saved = runs.load_weights(str(weights))
    assert labels == utils.predict_logits(saved["params"], X).argmax(axis=1).tolist()
    assert "accuracy on" in result.stdout  # the CSV has labels


def test_predict_a_missing_image(tmp_path, weights):
    result = run_cli(tmp_path, "--PREDICT=nothere.png", f"--WEIGHTS={weights}")
    assert_one_line_error(result, "nothere.png: ")


@pytest.mark.parametrize("content", ["random-bytes", "png-signature-then-garbage", "empty"])
def test_predict_a_corrupt_image(tmp_path, weights, content):
    garbage = np.random.default_rng(6).integers(0, 256, 3000, dtype=np.uint8).tobytes()
    (tmp_path / "x.png").write_bytes({"random-bytes": garbage, "empty": b"",
                                      "png-signature-then-garbage": PNG + garbage}[content])
    result = run_cli(tmp_path, "--PREDICT=x.png", f"--WEIGHTS={weights}")
    assert_one_line_error(result, "x.png: ")


def test_predict_a_blank_image(tmp_path, weights):
    import matplotlib.pyplot as plt  # only the PNG needs it

    plt.imsave(tmp_path / "blank.png", np.ones((40, 30)), cmap="gray", vmin=0, vmax=1)
    result = run_cli(tmp_path, "--PREDICT=blank.png", f"--WEIGHTS={weights}")
    assert_one_line_error(result, "blank.png: ")


def test_predict_without_weights_says_how_to_train_them(tmp_path, digit_png):
    result = run_cli(tmp_path, f"--PREDICT={digit_png}", "--LAYERS=[784,16,10]",
                     "--RUNS_DIR=runs")
    message = assert_one_line_error(result, "runs/784-16-10.pkl: ")
    assert "python main.py --LAYERS=[784,16,10]" in message


def test_predict_with_a_missing_weights_file_named(tmp_path, digit_png):
    result = run_cli(tmp_path, f"--PREDICT={digit_png}", "--WEIGHTS=missing.pkl")
    message = assert_one_line_error(result, "missing.pkl: ")
    assert "python main.py --LAYERS=" in message
