"""Issue 2: gradients, the loss, determinism, the whole run, saved weights, data, settings."""

import hashlib
import math
import os
import pickle
import re
import subprocess
import sys

import numpy as np
import pytest

import data
import main
import runs
import settings
import utils

TOL = 1e-6  # the largest relative error allowed between analytic and numeric gradients


# ----------------------------------------------------------------------------
# gradient check


@pytest.mark.parametrize("layers", [[6, 5, 3], [6, 5, 4, 4, 3], [7, 11, 2, 9, 4]],
                         ids=["one-hidden", "three-hidden", "uneven"])
def test_backward_matches_finite_differences(layers, grad_problem, gradient_errors):
    """Every layer's dW and db from backward agree with central differences (float64)."""
    params, X, y = grad_problem(layers, "relu", seed=1)
    errors = gradient_errors(params, X, y, "relu")
    assert len(errors) == len(layers) - 1
    for layer, (err_W, err_b, norm_W, norm_b) in enumerate(errors):
        assert norm_W > 1e-4, f"layer {layer}: dW is zero, the check would prove nothing"
        assert norm_b > 1e-4, f"layer {layer}: db is zero, the check would prove nothing"
        assert err_W < TOL, f"layer {layer}: dW relative error {err_W:.2e}"
        assert err_b < TOL, f"layer {layer}: db relative error {err_b:.2e}"


def test_gradients_have_the_shapes_and_dtype_of_params(grad_problem):
    """backward returns one (dW, db) per layer, shaped and typed like (W, b)."""
    params, X, y = grad_problem([7, 11, 2, 9, 4])
    Z, cache = utils.forward(params, X)
    _, dZ = utils.softmax_cross_entropy(Z, y)
    grads = utils.backward(params, cache, dZ)
    assert [(dW.shape, db.shape) for dW, db in grads] == [(W.shape, b.shape) for W, b in params]
    assert all(dW.dtype == np.float64 and db.dtype == np.float64 for dW, db in grads)


# ----------------------------------------------------------------------------
# softmax and cross-entropy


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_and_cross_entropy_of_huge_logits(dtype):
    """Logits of +-1e4 give softmax [1, 0, 0] and a loss of exactly 2e4 (or 0), all finite."""
    Z = np.array([[1e4, -1e4, 0.0]], dtype=dtype)
    np.testing.assert_array_equal(utils.softmax(Z), [[1.0, 0.0, 0.0]])
    assert utils.cross_entropy(Z, np.array([1])) == pytest.approx(2e4, rel=1e-12)
    assert utils.cross_entropy(Z, np.array([0])) == pytest.approx(0.0, abs=1e-12)
    assert np.all(np.isfinite(utils.log_softmax(Z)))
    loss, dZ = utils.softmax_cross_entropy(Z.copy(), np.array([1]))
    assert loss == pytest.approx(2e4, rel=1e-12)
    assert np.all(np.isfinite(dZ))
    np.testing.assert_allclose(dZ, [[1.0, -1.0, 0.0]], atol=1e-12)


def test_cross_entropy_by_hand():
    """Logits [0, ln 2, ln 3] are probabilities 1/6, 2/6, 3/6: losses ln 6 and ln 2."""
    row = [0.0, math.log(2), math.log(3)]
    Z = np.array([row, row])
    np.testing.assert_allclose(utils.softmax(Z), [[1 / 6, 2 / 6, 3 / 6]] * 2, rtol=1e-12)
    y = np.array([0, 2])
    expected = (math.log(6) + math.log(2)) / 2
    assert utils.cross_entropy(Z, y) == pytest.approx(expected, rel=1e-12)
    assert utils.softmax_cross_entropy(Z.copy(), y)[0] == pytest.approx(expected, rel=1e-12)


def test_fused_gradient_is_softmax_minus_one_hot_over_n():
    """softmax_cross_entropy's gradient is (softmax(Z) - onehot(y)) / n, its loss cross_entropy."""
    rng = np.random.default_rng(3)
    Z = rng.normal(0, 3, (5, 4))
    y = np.array([0, 3, 3, 1, 2])
    expected = (utils.softmax(Z) - utils.one_hot(y, 4)) / 5
    loss, dZ = utils.softmax_cross_entropy(Z.copy(), y)
    np.testing.assert_allclose(dZ, expected, rtol=1e-10, atol=1e-15)
    assert loss == pytest.approx(utils.cross_entropy(Z, y), rel=1e-12)


def test_one_hot_has_the_full_width_when_classes_are_missing():
    """one_hot([0, 2], 10) is (2, 10), with a single 1 at columns 0 and 2."""
    Y = utils.one_hot(np.array([0, 2]), 10)
    assert Y.shape == (2, 10)
    expected = np.zeros((2, 10))
    expected[0, 0] = expected[1, 2] = 1
    np.testing.assert_array_equal(Y, expected)


# ----------------------------------------------------------------------------
# determinism


def _one_epoch(seed, X, y):
    """Train [784, 32, 10] for one epoch from seed, with shifts and dropout; return params."""
    rng = np.random.default_rng(seed)
    params = utils.init_params([784, 32, 10], rng)
    state = utils.init_state(params, "momentum")
    result = utils.train_epoch(params, state, X, y, 100, rng, lambda step: 0.05,
                               lambda Xb, r: data.random_shift(Xb, 1, r),
                               dropout=[0.2], optimiser="momentum")
    assert result["status"] == "ok"
    return params


def test_training_is_deterministic_given_the_seed(mnist_small):
    """The same seed gives bit-identical params after an epoch; another seed does not."""
    X, y = mnist_small[0][:1000], mnist_small[1][:1000]
    first, again, other = (_one_epoch(s, X, y) for s in (7, 7, 8))
    for (W1, b1), (W2, b2) in zip(first, again):
        assert np.array_equal(W1, W2)
        assert np.array_equal(b1, b2)
    assert not all(np.array_equal(W1, W3) for (W1, _), (W3, _) in zip(first, other))


# ----------------------------------------------------------------------------
# the whole program


def test_main_end_to_end(repo, head_csv, tmp_path):
    """python main.py on 3000/1000 rows, 8 epochs: exit 0, >= 85% test accuracy, weights and curves saved."""
    head_csv(repo / "train.csv", tmp_path / "train.csv", 3000)
    head_csv(repo / "test.csv", tmp_path / "test.csv", 1000)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    epochs = 8
    proc = subprocess.run(
        [sys.executable, str(repo / "main.py"), f"--EPOCHS={epochs}", "--LAYERS=[784,64,10]"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout

    epoch_lines = re.findall(rf"^epoch +(\d+)/{epochs} ", out, flags=re.MULTILINE)
    assert epoch_lines == [str(e) for e in range(1, epochs + 1)], out
    match = re.search(r"^test accuracy (\d+\.\d+)% \(test\.csv, 1000 rows\)", out, re.MULTILINE)
    assert match, out
    printed = float(match.group(1))
    assert printed >= 85.0, out

    weights = tmp_path / "runs" / "784-64-10.pkl"
    assert weights.is_file()
    saved = runs.load_weights(str(weights))
    assert {"layers", "params", "config", "history", "test_accuracy"} <= set(saved)
    assert saved["layers"] == [784, 64, 10]
    assert [W.shape for W, _ in saved["params"]] == [(784, 64), (64, 10)]
    assert saved["config"]["EPOCHS"] == epochs
    accuracy = saved["test_accuracy"]
    assert isinstance(accuracy, float)
    assert 0.0 <= accuracy <= 1.0
    assert abs(100 * accuracy - printed) <= 0.005
    history = saved["history"]
    for key in ("epoch", "train_loss", "train_acc", "val_loss", "val_acc"):
        assert len(history[key]) == epochs, key
    assert history["epoch"] == list(range(1, epochs + 1))

    curves = tmp_path / "images" / "curves-784-64-10.png"
    png = curves.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) < 200 * 1024


def test_saved_weights_predict_like_the_params_in_memory(mnist_small, tmp_path):
    """save_weights then load_weights gives params that predict exactly the same labels."""
    X, y = mnist_small[0][:1000], mnist_small[1][:1000]
    params = _one_epoch(3, X, y)
    path = tmp_path / "runs" / "net.pkl"
    runs.save_weights(str(path), {"layers": [784, 32, 10], "params": params,
                                   "config": {"ACTIVATION": "relu"}, "history": {}})
    loaded = runs.load_weights(str(path))
    assert loaded["layers"] == [784, 32, 10]
    for (W, b), (W2, b2) in zip(params, loaded["params"]):
        assert W2.dtype == W.dtype
        assert np.array_equal(W, W2)
        assert np.array_equal(b, b2)
    before = utils.predict_logits(params, X).argmax(axis=1)
    after = utils.predict_logits(loaded["params"], X).argmax(axis=1)
    np.testing.assert_array_equal(before, after)
    assert np.mean(before == y) > 0.5  # a trained network, not a constant answer


def test_saved_files_get_the_usual_permissions(tmp_path):
    """save_atomic's files are readable like any other new file (0666 less the umask), not 0600."""
    umask = os.umask(0)
    os.umask(umask)
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"x")
    path = tmp_path / "saved.bin"
    runs.save_atomic(str(path), lambda f: f.write(b"x"))
    assert path.read_bytes() == b"x"
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~umask)
    assert oct(path.stat().st_mode & 0o777) == oct(plain.stat().st_mode & 0o777)


def test_load_weights_refuses_a_pickle_that_runs_code(tmp_path):
    """A weights file that would call os.system is refused with InputError, not run."""
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"layers": [2, 2], "params": Evil()}))
    with pytest.raises(data.InputError, match="refused"):
        runs.load_weights(str(path))


# ----------------------------------------------------------------------------
# the shipped data

SHA256 = {
    "train.csv": "a15dad728e71092adbf48d4771f80dd4878819c8177c1e33d8e93b366eaebc82",
    "test.csv": "a2352fb1a1baa1fcb2e57c5a14ecc04245294f60366ab633bcebfb01ce7c308f",
}


@pytest.mark.parametrize("name", sorted(SHA256))
def test_shipped_csv_checksum(repo, name):
    """train.csv and test.csv are byte for byte the published MNIST files."""
    digest = hashlib.sha256()
    with open(repo / name, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    assert digest.hexdigest() == SHA256[name]


# ----------------------------------------------------------------------------
# configuration


def test_override_sets_a_value():
    """--EPOCHS=5 sets 5 and leaves the other settings at their defaults."""
    default = main.EPOCHS
    c = settings.configure(main.DEFAULTS, ["--EPOCHS=5"])
    assert c["EPOCHS"] == 5
    assert c["BATCH_SIZE"] == main.BATCH_SIZE
    assert main.EPOCHS == default  # the module's constant is not changed
    assert settings.configure(main.DEFAULTS, [])["EPOCHS"] == default


def test_override_of_an_int_into_a_float_setting():
    """--LEARNING_RATE=1 is accepted as the float 1.0."""
    value = settings.configure(main.DEFAULTS, ["--LEARNING_RATE=1"])["LEARNING_RATE"]
    assert value == 1.0
    assert isinstance(value, float)


def test_bare_string_override():
    """--OPTIMISER=adam needs no quotes."""
    assert settings.configure(main.DEFAULTS, ["--OPTIMISER=adam"])["OPTIMISER"] == "adam"


@pytest.mark.parametrize("arg", ["--NO_SUCH_SETTING=1", "--epochs=5"])
def test_unknown_setting_is_refused(arg):
    """A name that is not a setting is an InputError."""
    with pytest.raises(data.InputError, match="not a setting"):
        settings.configure(main.DEFAULTS, [arg])


@pytest.mark.parametrize("arg", ["--EPOCHS=1.5", "--LAYERS=5", "--EPOCHS=True", "--EPOCHS=five",
                                 "--OPTIMISER=5", "--EPOCHS", "EPOCHS=5"])
def test_wrong_type_or_form_is_refused(arg):
    """A value of the wrong type, or an argument of the wrong form, is an InputError."""
    with pytest.raises(data.InputError):
        settings.configure(main.DEFAULTS, [arg])


def test_unhashable_literal_is_an_input_error():
    """A literal that literal_eval cannot build (a list as a dict key) is an InputError too."""
    with pytest.raises(data.InputError):
        settings.configure(main.DEFAULTS, ["--EPOCHS={[]: 1}"])


def test_string_setting_takes_bare_text_then_check_config_refuses_a_bad_name():
    """A string setting takes unparsable text as a string; check_config refuses unknown names."""
    c = settings.configure(main.DEFAULTS, ["--OPTIMISER={[]: 1}"])
    assert c["OPTIMISER"] == "{[]: 1}"
    with pytest.raises(data.InputError, match="OPTIMISER"):
        settings.check(c)


def test_recipe_is_applied_and_overrides_follow_it(tmp_path):
    """A recipe's NAME = value lines are applied in order; a later override wins."""
    recipe = tmp_path / "recipe.py"
    recipe.write_text('"""A recipe."""\nEPOCHS = 2\nDROPOUT = [0.1, 0.2]\n', encoding="utf-8")
    c = settings.configure(main.DEFAULTS, [str(recipe)])
    assert c["EPOCHS"] == 2
    assert c["DROPOUT"] == [0.1, 0.2]
    assert settings.configure(main.DEFAULTS, [str(recipe), "--EPOCHS=7"])["EPOCHS"] == 7
    assert settings.configure(main.DEFAULTS, ["--EPOCHS=7", str(recipe)])["EPOCHS"] == 2


@pytest.mark.parametrize("source", ["import os\n", "EPOCHS = 2\nimport os\n",
                                    "EPOCHS += 1\n", "EPOCHS = int('3')\n",
                                    "EPOCHS = (\n", "NOT_A_SETTING = 1\n"])
def test_recipe_with_code_is_refused(tmp_path, source):
    """A recipe holding anything but NAME = literal lines is an InputError, never executed."""
    recipe = tmp_path / "bad.py"
    recipe.write_text(source, encoding="utf-8")
    with pytest.raises(data.InputError):
        settings.configure(main.DEFAULTS, [str(recipe)])


def test_recipe_that_is_not_utf8_is_an_input_error(tmp_path):
    """A recipe with bytes that are not UTF-8 is an InputError naming it, not a traceback."""
    recipe = tmp_path / "latin1.py"
    recipe.write_bytes("EPOCHS = 2  # café\n".encode("latin-1"))
    with pytest.raises(data.InputError, match=re.escape(str(recipe))):
        settings.configure(main.DEFAULTS, [str(recipe)])


def test_missing_recipe_is_an_input_error(tmp_path):
    """A recipe file that does not exist is an InputError."""
    with pytest.raises(data.InputError):
        settings.configure(main.DEFAULTS, [str(tmp_path / "nope.py")])
