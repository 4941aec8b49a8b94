"""The forms datasets come in (issue 22), every file made here from the shipped MNIST: IDX
(plain, gzipped, labels missing or mismatched), .npz, EMNIST's transposed images, the A-Z
letters' mangled first line, names as labels (through the weights, predictions and
pictures), labels 1..k, 8x8 (0..16) and 14x14 grey, 32x32 colour (planar and channels
last), class imbalance, a folder of class folders with an unreadable and a hidden file,
and --PREDICT on a folder and on a pattern.

Most checks read the files in this process (formats.load_images, data.load_data); a few
run main.py whole (about 2 s each), on 300 rows and a network of 16 hidden units.
"""

import gzip
import os
import signal

import numpy as np
import pandas as pd
import pytest
from helpers import assert_small_png, assert_user_error, run_cli
from PIL import Image

import data
import diagnostics
import folders
import formats
import images
import main
import plots
import predict_inputs
import runs
import utils
from augment import augmentation

N_TRAIN, N_TEST = 300, 100
QUIET = {"report": lambda line: None}


@pytest.fixture(scope="module")
def digits(mnist_small):
    """(X, y, X_test, y_test): 300 training rows and 100 test rows of the shipped MNIST."""
    X, y = mnist_small
    return X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:N_TRAIN + N_TEST], y[N_TRAIN:N_TRAIN + N_TEST]


def write_idx(path, A):
    """An IDX file of unsigned bytes, gzipped when the name ends in .gz."""
    raw = bytes([0, 0, 8, A.ndim]) + np.array(A.shape, ">u4").tobytes() + A.astype(np.uint8).tobytes()
    with (gzip.open(path, "wb") if str(path).endswith(".gz") else open(path, "wb")) as f:
        f.write(raw)
    return str(path)


def write_csv(path, X, y=None, header=True):
    """label,pixel0,... rows (labels may be names); no label column when y is None."""
    frame = pd.DataFrame(X, columns=[f"pixel{j}" for j in range(X.shape[1])])
    if y is not None:
        frame.insert(0, "label", y)
    frame.to_csv(path, index=False, header=header)
    return str(path)


def config(train, test, **changes):
    """main.py's defaults with these files and changes."""
    return dict(main.DEFAULTS, TRAIN_CSV=str(train), TEST_CSV=str(test), **changes)


def load(c):
    """data.load_data of settings c, for its one network; returns the Split."""
    return data.load_data(c, [("LAYERS", c)], np.random.default_rng(0))


def small_run(tmp_path, *args):
    """main.py on a small network, one epoch, outputs under tmp_path/runs."""
    return run_cli(tmp_path, "--EPOCHS=1", f"--RUNS_DIR={tmp_path / 'runs'}", *args)


# ----------------------------------------------------------------------------
# IDX and .npz


def test_idx_plain_and_gzipped_read_as_the_csv_with_labels_found_beside(tmp_path, digits):
    X, y, X_test, y_test = digits
    images_path = write_idx(tmp_path / "train-images-idx3-ubyte", X.reshape(-1, 28, 28))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", y)  # the labels gzipped, the images not
    said = []
    X_read, y_read = formats.load_images(images_path, 9, report=said.append)
    np.testing.assert_array_equal(X_read, X)
    np.testing.assert_array_equal(y_read, y)
    assert y_read.dtype == np.int64 and X_read.dtype == np.uint8
    assert said == [(f"{images_path}: IDX images, {N_TRAIN} of 28x28 grey, labels from "
                     f"{tmp_path / 'train-labels-idx1-ubyte.gz'} (beside it)")]
    gz = write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", X_test.reshape(-1, 28, 28))
    named = write_idx(tmp_path / "my-labels", y_test)
    X_read, y_read = formats.load_images(gz, 9, labels=named, **QUIET)
    np.testing.assert_array_equal(X_read, X_test)
    np.testing.assert_array_equal(y_read, y_test)


def test_idx_without_or_with_mismatched_labels_is_refused_with_the_fix(tmp_path, digits):
    X, y, _, _ = digits
    images_path = write_idx(tmp_path / "train-images-idx3-ubyte.gz", X.reshape(-1, 28, 28))
    with pytest.raises(data.InputError, match="its labels file .*train-labels-idx1-ubyte.gz "
                       "does not exist: put it beside the images or name it with TRAIN_LABELS="):
        formats.load_images(images_path, 9, **QUIET)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", y[:-1])
    with pytest.raises(data.InputError, match=f"holds {N_TRAIN - 1} labels, .* {N_TRAIN} images: "
                       "not the labels of these images"):
        formats.load_images(images_path, 9, **QUIET)
    cut = tmp_path / "cut-images-idx3-ubyte"
    write_idx(cut, X.reshape(-1, 28, 28))
    cut.write_bytes(cut.read_bytes()[:-10])
    with pytest.raises(data.InputError, match="cut short or damaged"):
        formats.load_images(str(cut), 9, **QUIET)
    result = small_run(tmp_path, f"--TRAIN_CSV={images_path}", "--TRAIN_LABELS=nowhere-idx1")
    assert_user_error(result, contains=["nowhere-idx1 does not exist", "TRAIN_LABELS="])


def test_npz_with_kerass_names_or_x_and_y_and_a_refusal_naming_what_it_holds(tmp_path, digits):
    X, y, X_test, y_test = digits
    keras = tmp_path / "mnist.npz"
    np.savez(keras, x_train=X.reshape(-1, 28, 28), y_train=y.astype(np.uint8),
             x_test=X_test.reshape(-1, 28, 28), y_test=y_test)
    for role, (want_X, want_y) in (("train", (X, y)), ("test", (X_test, y_test))):
        X_read, y_read = formats.load_images(str(keras), 9, role=role, **QUIET)
        np.testing.assert_array_equal(X_read, want_X)
        np.testing.assert_array_equal(y_read, want_y)
    plain = tmp_path / "plain.npz"
    np.savez(plain, x=X / 255.0, y=y)  # fractions 0..1: scaled back
    said = []
    X_read, _ = formats.load_images(str(plain), 9, role="test", report=said.append)
    np.testing.assert_array_equal(X_read, X)
    assert "pixels 0..1 scaled to 0..255" in said[0]
    other = tmp_path / "other.npz"
    np.savez(other, images=X, labels=y)
    with pytest.raises(data.InputError, match="holds arrays images, labels; the training images "
                       "are read from x_train/y_train or x/y: rename them"):
        formats.load_images(str(other), 9, **QUIET)


def test_mnist_from_idx_or_npz_trains_the_very_weights_of_the_csv(tmp_path, digits):
    """The same rows in another form give the same weights, to the last bit: each form read
    by data.load_data and trained for an epoch by main.train, as main.py's run does."""
    X, y, X_test, y_test = digits
    write_csv(tmp_path / "train.csv", X, y)
    write_csv(tmp_path / "test.csv", X_test, y_test)
    write_idx(tmp_path / "train-images-idx3-ubyte", X.reshape(-1, 28, 28))
    write_idx(tmp_path / "train-labels-idx1-ubyte", y)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", X_test.reshape(-1, 28, 28))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", y_test)
    np.savez(tmp_path / "mnist.npz", x_train=X.reshape(-1, 28, 28), y_train=y,
             x_test=X_test.reshape(-1, 28, 28), y_test=y_test)
    forms = {"csv": ("train.csv", "test.csv"),
             "idx": ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz"),
             "npz": ("mnist.npz", "mnist.npz")}
    weights = {}
    for name, (train, test) in forms.items():
        c = config(tmp_path / train, tmp_path / test, LAYERS=[784, 16, 10], EPOCHS=1, THREADS=1)
        split = load(c)
        np.testing.assert_array_equal(split[4], X_test)
        weights[name] = main.train(c, *split[:4], np.random.default_rng([c["SEED"], 1]))["params"]
    for name in ("idx", "npz"):
        for layer, other in zip(weights["csv"], weights[name], strict=True):
            assert layer.keys() == other.keys()
            for key in layer:  # W and b (gamma, beta): every bit
                assert layer[key].tobytes() == other[key].tobytes(), (name, key)


# ----------------------------------------------------------------------------
# orientation, the mangled first line, names as labels, labels 1..k


def test_transposed_training_images_are_detected_and_turned_with_the_setting(tmp_path, digits,
                                                                              capsys):
    X, y, X_test, y_test = digits
    train = write_csv(tmp_path / "emnist.csv", images.transposed(X), y)
    test = write_csv(tmp_path / "test.csv", X_test, y_test)
    split = load(config(train, test))
    warning = [line for line in capsys.readouterr().out.splitlines() if "transposed" in line]
    assert len(warning) == 1 and warning[0].startswith(f"warning: {train}'s images look "
                                                       "transposed relative to"), warning
    assert "--TRANSPOSED=train" in warning[0]
    split = load(config(train, test, TRANSPOSED="train"))
    out = capsys.readouterr().out
    assert "warning" not in out and "TRANSPOSED=train: the images of" in out
    rows = np.concatenate([split[0], split[2]])
    assert {r.tobytes() for r in rows} == {r.tobytes() for r in X}  # upright again
    saved = {"layers": [784, 16, 10], "classes": None, "config": {"TRANSPOSED": "both"}}
    X_read, _ = predict_inputs.rows_to_predict(train, saved)  # a file like the weights' test
    np.testing.assert_array_equal(X_read, X)
    upright = write_csv(tmp_path / "upright.csv", X, y)  # --TRANSPOSED="" on the command line
    X_read, _ = predict_inputs.rows_to_predict(upright, saved, transposed="")
    np.testing.assert_array_equal(X_read, X)
    X_read, _ = predict_inputs.rows_to_predict(train, {**saved, "config": {}}, transposed="test")
    np.testing.assert_array_equal(X_read, X)


def test_a_first_line_that_pandas_mangled_is_read_back_as_a_row(tmp_path, digits):
    """The A-Z letters CSV: a DataFrame whose first row became its column names."""
    X, y, _, _ = digits
    rows = np.column_stack([y, X])[:50]
    mangled = tmp_path / "letters.csv"
    pd.DataFrame(rows[1:], columns=pd.read_csv(
        pd.io.common.StringIO(",".join(map(str, rows[0])) + "\n")).columns).to_csv(mangled, index=False)
    assert mangled.read_text().startswith(f"{y[0]},0,0.1,0.2,")
    said = []
    X_read, y_read = formats.load_images(str(mangled), 25, report=said.append)
    np.testing.assert_array_equal(X_read, X[:50])
    np.testing.assert_array_equal(y_read, y[:50])
    assert "line 1 is a row that pandas had taken for column names" in said[0]


def test_names_as_labels_go_through_the_weights_predictions_and_pictures(tmp_path, digits):
    X, y, X_test, y_test = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"])
    write_csv(tmp_path / "train.csv", X, names[y])
    write_csv(tmp_path / "test.csv", X_test, names[y_test])
    write_csv(tmp_path / "unlabelled.csv", X_test)
    result = small_run(tmp_path, "--TRAIN_CSV=train.csv", "--TEST_CSV=unlabelled.csv",
                       "--LAYERS=[784,16,10]", "--NAME=named")
    assert result.returncode == 0, result.stderr
    assert ("train.csv: labels are names: 10 classes, numbered in alphabetical order: 0 eight, "
            "1 five, 2 four, 3 nine, 4 one, 5 seven, 6 six, 7 three, 8 two, 9 zero") in result.stdout
    folder = tmp_path / "runs" / "named"
    saved = runs.load_weights(str(folder / "weights.pkl"))
    assert saved["classes"] == sorted(names.tolist())
    predicted = pd.read_csv(folder / "predictions.csv")  # main.py's own test file unlabelled
    assert set(predicted["Label"]) <= set(names) and len(predicted) == N_TEST
    X_named, y_named = predict_inputs.rows_to_predict(str(tmp_path / "test.csv"), saved)
    np.testing.assert_array_equal(np.array(saved["classes"])[y_named], names[y_test])
    Z = utils.predict_logits(saved["params"], X_named, stats=saved["stats"])
    for picture in plots.test_pictures(str(folder), "-test", "named", X_named, y_named, Z,
                                       saved["classes"]):
        assert_small_png(picture)  # confusion and mistakes, their classes by name
    digit_png = tmp_path / "seven.png"
    Image.fromarray(X_test[0].reshape(28, 28)).resize((112, 112)).save(digit_png)
    result = run_cli(tmp_path, f"--PREDICT={digit_png}", f"--WEIGHTS={folder / 'weights.pkl'}")
    assert result.returncode == 0, result.stderr
    answers = [line.strip().split(":")[0] for line in result.stdout.splitlines()
               if line.startswith("  ")]
    assert len(answers) == 3 and set(answers) <= set(names), result.stdout
    strange = write_csv(tmp_path / "strange.csv", X_test[:5], ["ten"] * 5)
    with pytest.raises(data.InputError, match="strange.csv: labels 'ten' are not among the "
                                              "weights' classes"):
        predict_inputs.rows_to_predict(strange, saved)


def test_labels_1_to_k_are_read_as_classes_and_shown_as_given(tmp_path, digits, capsys):
    X, y, X_test, y_test = digits
    train = write_csv(tmp_path / "letters.csv", X, y + 1)
    test = write_csv(tmp_path / "letters-test.csv", X_test, y_test + 1)
    split = load(config(train, test))
    assert "labels run 1..10, with no 0, and LAYERS[-1] = 10: read as classes 0..9 " \
           "(label - 1)" in capsys.readouterr().out
    assert split.classes == [str(k) for k in range(1, 11)]
    assert split[1].min() == 0 and split[1].max() == 9 and split[5].max() == 9
    bad = write_csv(tmp_path / "bad.csv", X, np.where(np.arange(len(y)) == 7, 10, y))
    with pytest.raises(data.InputError, match=r"bad.csv: line 9, column 1 \(label\): label '10' "
                                              r"is outside 0..9 \(LAYERS\[-1\] = 10"):
        load(config(bad, test))
    names = write_csv(tmp_path / "names.csv", X_test, np.array(list("abcdefghij"))[y_test])
    with pytest.raises(data.InputError, match="its labels are names, .* are numbers"):
        load(config(train, names))


# ----------------------------------------------------------------------------
# sides, scales, colour, balance


def test_8x8_digits_of_0_to_16_and_14x14_grey_train_and_draw(tmp_path, digits, capsys):
    X, y, X_test, y_test = digits

    def shrunk(A, side, top):  # mean of blocks, on a scale 0..top
        k = 28 // side
        small = A.reshape(-1, side, k, side, k).mean(axis=(2, 4)) if 28 % side == 0 else \
            A.reshape(-1, 28, 28)[:, 2:26, 2:26].reshape(-1, side, 24 // side, side,
                                                           24 // side).mean(axis=(2, 4))
        return np.rint(small / 255 * top).astype(np.uint8).reshape(len(A), -1)

    train8 = write_csv(tmp_path / "d8.csv", shrunk(X, 8, 16), y)
    test8 = write_csv(tmp_path / "d8-test.csv", shrunk(X_test, 8, 16), y_test)
    split = load(config(train8, test8, LAYERS=[64, 16, 10]))
    out = capsys.readouterr().out
    assert f"{train8}: pixels 0..16 (largest 16) scaled to 0..255" in out
    assert "MAX_SHIFT=1 is for 28x28 images: 0 pixels on these 8x8 ones" in out
    assert split[0].max() == 255 and split[0].shape[1] == 64
    assert augmentation(data.in_proportion(main.DEFAULTS, 64)) is None  # no shift at 8x8
    assert data.in_proportion(main.DEFAULTS, 32 * 32)["MAX_SHIFT"] == 1
    write_csv(tmp_path / "d14.csv", shrunk(X, 14, 255), y)
    write_csv(tmp_path / "d14-test.csv", shrunk(X_test, 14, 255), y_test)
    result = small_run(tmp_path, "--TRAIN_CSV=d14.csv", "--TEST_CSV=d14-test.csv",
                       "--LAYERS=[196,16,10]", "--NAME=d14")
    assert result.returncode == 0, result.stderr
    for picture in ("mistakes.png", "weights.png", "confusion.png"):
        assert_small_png(tmp_path / "runs" / "d14" / picture)


def coloured(X, y):
    """32x32 colour rows, channels last: the digit framed by 2 pixels, its ink red for even
    labels and green for odd ones, on a blue-grey background."""
    grey = np.pad(X.reshape(-1, 28, 28), ((0, 0), (2, 2), (2, 2))).astype(np.float64) / 255
    odd = (y % 2 == 1)[:, None, None]
    rgb = np.stack([np.where(odd, 0.2, 1.0) * grey, np.where(odd, 1.0, 0.2) * grey,
                    0.3 * (1 - grey)], axis=3)
    return np.rint(rgb * 255).astype(np.uint8).reshape(len(X), -1)


def test_32x32_colour_planar_or_channels_last_trains_draws_and_predicts(tmp_path, digits):
    X, y, X_test, y_test = digits
    C, C_test = coloured(X, y), coloured(X_test, y_test)
    planar = C.reshape(-1, 32, 32, 3).transpose(0, 3, 1, 2).reshape(len(C), -1)
    said = []
    X_read, _ = formats.load_images(write_csv(tmp_path / "planar.csv", planar, y), 9,
                                    report=said.append)
    np.testing.assert_array_equal(X_read, C)
    assert said == [(f"{tmp_path / 'planar.csv'}: colour, planar (all red, then green, then "
                     "blue): rearranged to channels last")]
    np.savez(tmp_path / "colour.npz", x_train=C.reshape(-1, 32, 32, 3), y_train=y,
             x_test=C_test.reshape(-1, 32, 32, 3), y_test=y_test)
    npz = str(tmp_path / "colour.npz")
    with pytest.raises(data.InputError, match="colour.npz: augmentation needs square grey images, "
                                              "not 32x32 colour: set MAX_SHIFT=0"):
        load(config(npz, npz, LAYERS=[3072, 16, 10]))
    result = small_run(tmp_path, "--TRAIN_CSV=colour.npz", "--TEST_CSV=colour.npz",
                       "--LAYERS=[3072,16,10]", "--MAX_SHIFT=0", "--NAME=colour")
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "runs" / "colour"
    for picture in ("mistakes.png", "weights.png", "confusion.png"):
        assert_small_png(folder / picture)
    Image.fromarray(C_test[0].reshape(32, 32, 3)).resize((96, 96)).save(tmp_path / "c.png")
    result = run_cli(tmp_path, "--PREDICT=c.png", f"--WEIGHTS={folder / 'weights.pkl'}")
    assert result.returncode == 0, result.stderr
    assert_small_png(folder / "predicted-c-png.png")


def test_imbalanced_classes_are_said_at_load_and_named_first_at_chance(tmp_path, digits, capsys):
    X, y, X_test, y_test = digits
    keep = (y == 1) | (np.arange(len(y)) % 20 == 0)  # mostly ones
    train = write_csv(tmp_path / "ones.csv", X[keep], y[keep])
    load(config(train, write_csv(tmp_path / "t.csv", X_test, y_test)))
    out = capsys.readouterr().out
    assert f"{train}: the classes are imbalanced (the largest has" in out
    assert diagnostics.imbalance(y) == 0  # MNIST's own 300 rows: balanced within counting noise
    said = diagnostics.still_at_chance(0.5, 0.5, y[keep])
    assert said.index("the classes are imbalanced") < said.index("the learning rate")
    assert "imbalanced" not in diagnostics.still_at_chance(0.1, 0.11, y)


# ----------------------------------------------------------------------------
# a folder of class folders; --PREDICT on a folder and a pattern


def test_class_folders_with_an_unreadable_and_a_hidden_file_train_and_predict(tmp_path, digits,
                                                                              capsys, monkeypatch):
    X, y, X_test, y_test = digits
    tree = tmp_path / "pictures"
    for k in range(200):
        (tree / str(y[k])).mkdir(parents=True, exist_ok=True)
        Image.fromarray(X[k].reshape(28, 28)).save(tree / str(y[k]) / f"{k:03d}.png")
    (tree / "3" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (tree / "3" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (tree / "empty").mkdir()
    said = []
    X_read, y_read = formats.load_images(str(tree), 9, report=said.append)
    assert sorted(set(y_read.tolist())) == list(range(10))
    assert len(X_read) == 200 and X_read.shape[1] == 784
    assert said == [(f"{tree}: a folder of 10 class folders, 200 pictures; 28x28 grey; class "
                    "folders named by number: read as those labels")]
    write_csv(tmp_path / "test.csv", X_test, y_test)
    result = small_run(tmp_path, "--TRAIN_CSV=pictures", "--TEST_CSV=test.csv",
                       "--LAYERS=[784,16,10]", "--NAME=folder")
    assert result.returncode == 0, result.stderr
    warning = [line for line in result.stdout.splitlines() if line.startswith("warning: ")]
    assert (f"warning: pictures: left out 1 unreadable file ({os.path.join('3', 'broken.png')}); "
            f"1 hidden file ({os.path.join('3', '.DS_Store')}); 1 empty folder (empty)") in warning
    weights = tmp_path / "runs" / "folder" / "weights.pkl"
    many = tmp_path / "many"
    many.mkdir()
    for k in range(5):
        Image.fromarray(255 - X_test[k].reshape(28, 28)).resize((84, 84)).save(many / f"{k}.png")
    (many / "notes.txt").write_text("not a picture")
    result = run_cli(tmp_path, "--PREDICT=many", f"--WEIGHTS={weights}")
    assert result.returncode == 0, result.stderr
    assert "predictions for 5 of 6 pictures (1 could not be read" in result.stdout
    table = pd.read_csv(weights.parent / "predictions-many.csv", keep_default_na=False)
    assert list(table.columns) == ["picture", "class", "probability", "warning"]
    assert table["class"].tolist()[:5] != [""] * 5 and table["warning"].iloc[5] != ""
    assert_small_png(weights.parent / "seen-many.png")
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)
    assert predict_inputs.predict_many("many/[0-2].png", runs.load_weights(str(weights)),
                                       str(weights)) == 0  # a pattern
    assert capsys.readouterr().out.startswith("predictions for 3 of 3 pictures")
    assert len(pd.read_csv(weights.parent / "predictions-many-_0-2_.csv")) == 3
    assert_small_png(weights.parent / "seen-many-_0-2_.png")
    assert predict_inputs.predict_many("many/*.txt", runs.load_weights(str(weights)),
                                       str(weights)) == 2  # nothing classified: bad input
    assert "error: many/*.txt: none of its 1 picture could be read" in capsys.readouterr().err
    draw = plots.draw  # Ctrl-C while the outputs are written: both end whole, then it stops

    def pressed_meanwhile(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        return draw(*args, **kwargs)

    monkeypatch.setattr(plots, "draw", pressed_meanwhile)
    for name in ("predictions-many-_0-2_.csv", "seen-many-_0-2_.png"):
        (weights.parent / name).unlink()
    with pytest.raises(KeyboardInterrupt):
        predict_inputs.predict_many("many/[0-2].png", runs.load_weights(str(weights)),
                                    str(weights))
    assert "Ctrl-C: writing the predictions and the contact sheet first" in capsys.readouterr().out
    assert len(pd.read_csv(weights.parent / "predictions-many-_0-2_.csv")) == 3
    assert_small_png(weights.parent / "seen-many-_0-2_.png")
    monkeypatch.setattr(plots, "draw", draw)
    with pytest.raises(data.InputError, match=r"many/\*.jpg: no file matches"):
        folders.pictures_of(str(tmp_path / "many" / "*.jpg"))
    before = (weights.parent / "predictions-many.csv").read_bytes()
    pair = run_cli(tmp_path, "--PREDICT=many", f"--WEIGHTS=['{weights}', '{weights}']")
    assert pair.returncode == 0, pair.stderr  # a committee's own outputs, never its first's
    assert (weights.parent / "predictions-many.csv").read_bytes() == before
    assert len(list(weights.parent.glob("predictions-many-committee2-*.csv"))) == 1
    assert len(list(weights.parent.glob("seen-many-committee2-*.png"))) == 1
    turned = run_cli(tmp_path, "--PREDICT=test.csv", f"--WEIGHTS={weights}", "--TRANSPOSED=test")
    assert turned.returncode == 0, turned.stderr  # read otherwise than the weights': its own name
    assert "test.csv: turned over its diagonal (TRANSPOSED=test)" in turned.stdout
    assert (weights.parent / "predictions-test-transposed.csv").exists()


def test_a_folder_without_class_folders_is_refused_with_the_fix(tmp_path):
    (tmp_path / "flat").mkdir()
    Image.new("L", (28, 28)).save(tmp_path / "flat" / "a.png")
    with pytest.raises(data.InputError, match="flat: is a folder of 1 files without class "
                       "folders: put each class's pictures in a folder named after the class"):
        formats.load_images(str(tmp_path / "flat"), 9, **QUIET)
