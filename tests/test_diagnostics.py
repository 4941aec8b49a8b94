"""diagnostics.py: per-layer statistics against values worked out by hand, the diagnosis on
constructed and real cases, the gradient check with a right and a wrong derivative, and
that reading the statistics never changes training."""

import contextlib
import io
import math
import pickle

import numpy as np
import pytest

import diagnostics
import main
import runs
import settings
import utils

# ----------------------------------------------------------------------------
# the statistics of tiny networks with hand-set weights

X3 = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # three rows, two inputs


def relu_net():
    """[2, 3, 2]: hidden unit 1 always active, unit 2 dead, unit 3 active on row 2 only."""
    W1 = np.array([[1.0, -1.0, 0.0], [1.0, -1.0, 2.0]])
    b1 = np.array([0.0, -0.5, -1.0])
    W2 = np.array([[1.0, -1.0], [0.5, 0.5], [-1.0, 1.0]])
    return [{"W": W1, "b": b1}, {"W": W2, "b": np.zeros(2)}]


def test_relu_activations_and_a_dead_unit_by_hand():
    # Z1 rows: [1, -1.5, -1], [1, -1.5, 1], [2, -2.5, 1] -> A1 = [1,0,0], [1,0,1], [2,0,1]
    A1 = np.array([[1.0, 0, 0], [1, 0, 1], [2, 0, 1]])
    record = diagnostics.layer_stats(relu_net(), X3, np.array([0, 1, 0]), "relu")
    assert record["act_mean"] == [pytest.approx(6 / 9)]
    assert record["act_std"] == [pytest.approx(math.sqrt(np.mean((A1 - 6 / 9) ** 2)))]
    assert record["dead"] == [pytest.approx(1 / 3)]  # unit 2, never active; unit 3 is alive
    assert record["saturated"] is None
    assert record["hist"][0]["zero"] == pytest.approx(4 / 9)  # the four zeros of A1
    assert sum(record["hist"][0]["counts"]) == 5  # the five non-zero activations
    assert (record["hist"][0]["lo"], record["hist"][0]["hi"]) == (1.0, 2.0)
    assert record["rows"] == 3 and record["epoch"] == 0
    assert record["update"] is None  # nothing to compare with before training
    leaky = diagnostics.layer_stats(relu_net(), X3, np.array([0, 1, 0]), "leaky_relu")
    assert leaky["dead"] == [pytest.approx(1 / 3)]  # never positive: dead by the same rule


@pytest.mark.parametrize(("activation", "scale"), [("sigmoid", 10.0), ("tanh", 5.0)])
def test_a_saturated_unit_by_hand(activation, scale):
    """Unit 1 gets scale * x0: sigmoid(10) = 0.99995 and tanh(5) = 0.9999 are saturated,
    sigmoid(0) = 0.5 and tanh(0) = 0 are not; unit 2 gets 0 always: never saturated."""
    params = [{"W": np.array([[scale, 0.0], [0.0, 0.0]]), "b": np.zeros(2)},
              {"W": np.ones((2, 2)), "b": np.zeros(2)}]
    record = diagnostics.layer_stats(params, X3, np.array([0, 1, 0]), activation)
    assert record["saturated"] == [pytest.approx(2 / 6)]  # rows 1 and 3 of unit 1
    assert record["dead"] is None
    # just inside and just outside the threshold: 0.985 and 0.97 are not saturated
    limit = diagnostics.SATURATION[activation]
    high = 1 - limit
    z = math.log(high / (1 - high)) if activation == "sigmoid" else math.atanh(high)
    for factor, expected in ((0.99, 0.0), (1.01, 1 / 6)):
        params[0] = {"W": np.array([[z * factor, 0.0], [0.0, 0.0]]), "b": np.zeros(2)}
        X = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
        got = diagnostics.layer_stats(params, X, np.array([0, 1, 0]), activation)["saturated"]
        assert got == [pytest.approx(expected)], factor


def test_gradient_size_and_step_ratio_by_hand():
    """One linear layer, W all ones and b zero: every row's probabilities are (0.5, 0.5), so
    dZ = (P - onehot(y)) / n and dW = X^T dZ are known exactly."""
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array([0, 1])
    params = [{"W": np.ones((2, 2)), "b": np.zeros(2)}]
    # dZ = [[-0.25, 0.25], [0.25, -0.25]]; dW = X^T dZ = dZ: RMS 0.25; db = column sums = 0
    sgd = diagnostics.layer_stats(params, X, y, lr=0.1, optimiser="sgd")
    assert sgd["dW_rms"] == [pytest.approx(0.25)]
    assert sgd["db_norm"] == [pytest.approx(0.0)]
    assert sgd["W_norm"] == [pytest.approx(2.0)]
    assert sgd["step"] == [pytest.approx(0.1 * 0.25 / 1.0)]  # lr RMS(dW) / RMS(W)
    momentum = diagnostics.layer_stats(params, X, y, lr=0.1, optimiser="momentum", momentum=0.9)
    assert momentum["step"] == [pytest.approx(0.1 * 0.25 / (1 - 0.9))]
    adam = diagnostics.layer_stats(params, X, y, lr=0.1, optimiser="adam")
    assert adam["step"] == [pytest.approx(0.1, rel=1e-6)]  # lr sign(g): every |dW| is 0.25
    assert adam["act_mean"] == [] and adam["hist"] == []  # no hidden layer


def test_the_update_ratio_of_a_known_step():
    """W moved from [[3, 0], [0, 4]] (norm 5) by [[0.3, 0], [0, 0.4]] (norm 0.5): ratio 0.1."""
    before = [np.array([[3.0, 0.0], [0.0, 4.0]])]
    params = [{"W": before[0] + np.array([[0.3, 0.0], [0.0, 0.4]]), "b": np.zeros(2)}]
    record = diagnostics.layer_stats(params, X3[:2], np.array([0, 1]), before=before, epoch=3)
    assert record["update"] == [pytest.approx(0.1)]
    assert record["epoch"] == 3
    assert diagnostics.weights_of(params)[0] is not params[0]["W"]  # a copy
    np.testing.assert_array_equal(diagnostics.weights_of(params)[0], params[0]["W"])


def test_statistics_leave_the_network_alone_and_pickle_as_plain_data(mnist_small, tmp_path):
    """Nothing passed in changes (params, running statistics, probe), and the record is plain
    Python data that the restricted unpickler of weights files loads back equal."""
    X, y = diagnostics.probe(np.empty((0, 784), np.uint8), np.empty(0, int), *mnist_small,
                             rows=200)
    assert X.dtype == np.float32 and len(X) == 200  # no validation rows: training rows
    params = utils.init_params([784, 16, 12, 10], np.random.default_rng(0), batch_norm=True)
    stats = utils.init_stats(params)
    stats[0]["mean"][:] = 0.1  # running statistics unlike the probe's own
    kept = (utils.copy_params(params), utils.copy_params(stats), X.copy())
    record = diagnostics.layer_stats(params, X, y, "relu", stats, diagnostics.weights_of(params),
                                     0.05, "momentum", 0.9, 1)
    for now, then in zip((params, stats), kept[:2]):
        assert all(np.array_equal(la[k], lb[k]) for la, lb in zip(now, then) if la is not None
                   for k in la)
    np.testing.assert_array_equal(X, kept[2])
    assert record["update"] == [0.0, 0.0, 0.0]

    def plain(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or type(value) in (int, float, str)

    assert plain(record)
    path = tmp_path / "weights.pkl"
    path.write_bytes(pickle.dumps({"layers": [784, 16, 12, 10], "params": params,
                                   "stats": stats, "history": {"layers": [record]}}))
    assert runs.load_weights(str(path))["history"]["layers"] == [record]


# ----------------------------------------------------------------------------
# the diagnosis


def record(dW, epoch=0, lr=0.05, step=None, dead=None, saturated=None, rows=1000):
    """A record of history["layers"] with the figures the diagnosis reads."""
    return {"epoch": epoch, "lr": lr, "rows": rows, "dW_rms": list(dW),
            "step": list(step or [1e-3] * len(dW)), "dead": dead, "saturated": saturated}


def test_the_diagnosis_fires_on_a_constructed_vanishing_case_and_is_silent_on_a_healthy_one():
    vanishing = [record([1e-5, 1e-4, 1e-3, 2e-2]), record([2e-5, 2e-4, 1e-3, 2e-2], epoch=1)]
    lines = diagnostics.diagnose(vanishing, "sigmoid")
    assert len(lines) == 1, lines
    assert lines[0].startswith("layer 1 gets gradients 50x smaller than layer 3")
    assert "100x before training" in lines[0] and "vanishing gradients" in lines[0]
    assert "layers.png" in lines[0] and 'ACTIVATION="relu"' in lines[0]
    assert "BATCH_NORM=True" in lines[0]
    assert "BATCH_NORM" not in diagnostics.diagnose(vanishing, "sigmoid", batch_norm=True)[0]
    healthy = [record([2e-3, 3e-3, 4e-3, 9e-3]), record([6e-4, 9e-4, 1.5e-3, 6e-3], epoch=1)]
    assert diagnostics.diagnose(healthy, "relu") == []
    assert diagnostics.diagnose([], "relu") == []
    one_hidden = [record([1e-6, 1e-2])]  # a gap needs two hidden layers to compare
    assert diagnostics.diagnose(one_hidden, "sigmoid") == []


def test_the_diagnosis_names_exploding_dead_saturated_and_step_sizes():
    exploding = diagnostics.diagnose([record([1e-1, 1e-2, 1e-3])], "relu")
    assert len(exploding) == 1 and "exploding gradients" in exploding[0]
    grown = diagnostics.diagnose([record([1e-3, 1e-3, 1e-3]),
                                  record([1e-3, 1e-3, 2e-1], epoch=1)], "relu")
    assert len(grown) == 1, grown
    assert grown[0].startswith("the output layer's gradients grew 200x"), grown
    dead = diagnostics.diagnose([record([1e-3, 1e-3, 1e-3], dead=[0.1, 0.75])], "relu")
    assert len(dead) == 1 and dead[0].startswith("layer 2: 75% of the units are dead"), dead
    dead = diagnostics.diagnose([record([1e-3] * 4, dead=[0.9, 0.2, 1.0])], "relu")
    assert dead[0].startswith("layers 1 and 3: 90% and 100% of the units are dead"), dead
    saturated = diagnostics.diagnose([record([1e-3, 1e-3, 1e-3], saturated=[0.6, 0.0])], "tanh")
    assert len(saturated) == 1, saturated
    assert saturated[0].startswith("layer 1: 60% of the activations are saturated (within 0.03")
    assert diagnostics.diagnose([record([1e-3, 1e-3, 1e-3], dead=[0.5, 0.5])], "relu") == []
    high = [record([1e-3] * 3), record([1e-3] * 3, epoch=1, step=[1e-3, 0.3, 1e-2])]
    assert ["too high" in line and "layer 2" in line for line in diagnostics.diagnose(high)] == [True]
    low = [record([1e-3] * 3), record([1e-3] * 3, epoch=1, step=[1e-7, 3e-6, 1e-6])]
    assert ["too low" in line for line in diagnostics.diagnose(low)] == [True]
    # a dead network's steps are 0 because its gradients are: that is not a low learning rate
    dead = [record([1e-3] * 3), record([0.0] * 3, epoch=1, step=[0.0] * 3, dead=[1.0, 1.0])]
    assert ["dead" in line for line in diagnostics.diagnose(dead)] == [True]
    # nor are a vanishing network's tiny steps; and huge ratios read as such
    deep = [record([1e-9, 1e-7, 2.6e-4, 1e-3], epoch=1, step=[1e-9, 1e-8, 3e-6, 6e-6])]
    (line,) = diagnostics.diagnose(deep, "sigmoid")
    assert line.startswith("layer 1 gets gradients 260,000x smaller than layer 3"), line
    # judged after training began: the untrained network's first steps do not count
    first = [record([1e-3] * 3, step=[0.5] * 3), record([1e-3] * 3, epoch=1)]
    assert diagnostics.diagnose(first) == []
    # and at the largest learning rate: the schedule's last, tiny steps do not count
    end = [record([1e-3] * 3), record([1e-3] * 3, epoch=1),
           record([1e-3] * 3, epoch=2, lr=1e-9, step=[1e-12] * 3)]
    assert diagnostics.diagnose(end) == []


@pytest.mark.parametrize(("activation", "vanishes"), [("sigmoid", True), ("relu", False)])
def test_a_deep_sigmoid_network_has_vanishing_gradients_and_relu_has_not(mnist_small,
                                                                         activation, vanishes):
    """Nielsen's [784, 30, 30, 30, 30, 10] at its start, on 1000 real rows: the sigmoid's
    first hidden layer gets gradients over 10x smaller than its last (about 100x when
    written), ReLU's within a small factor; the diagnosis says so only for the sigmoid."""
    X, y = diagnostics.probe(np.empty((0, 784), np.uint8), np.empty(0, int), *mnist_small)
    params = utils.init_params([784, 30, 30, 30, 30, 10], np.random.default_rng([0, 1]),
                               utils.default_init(activation))
    stats = diagnostics.layer_stats(params, X, y, activation, lr=0.05, optimiser="momentum")
    gap = stats["dW_rms"][3] / stats["dW_rms"][0]
    lines = diagnostics.diagnose([stats], activation)
    if vanishes:
        assert gap >= 10 * 3, gap
        assert len(lines) == 1 and "vanishing gradients" in lines[0], lines
    else:
        assert 1 / 3 < gap < 3, gap
        assert lines == []


# ----------------------------------------------------------------------------
# the gradient check


@pytest.mark.parametrize(("layers", "activation", "batch_norm", "dropout"), [
    ([784, 256, 128, 64, 10], "relu", False, None),
    ([784, 30, 30, 30, 30, 10], "sigmoid", False, None),
    ([20, 16, 16, 5], "tanh", True, [0.2, 0.5]),
    ([784, 64, 10], "leaky_relu", False, [0.3]),
])
def test_the_gradient_check_passes_a_right_backward(layers, activation, batch_norm, dropout):
    lines, ok = diagnostics.gradient_check(layers, activation, batch_norm, dropout=dropout,
                                           weight_decay=0.01)
    assert ok, "\n".join(lines)
    rows = [line for line in lines if line.startswith("  ") and "x" in line.split()[1]]
    assert len(rows) == len(layers) - 1
    errors = [float(word) for line in rows for word in line.split()[3::2]]
    assert len(errors) == sum(3 if batch_norm and l < len(layers) - 2 else 2
                              for l in range(len(layers) - 1))
    assert max(errors) < 1e-6
    assert lines[-1].startswith("every gradient checked agrees")


def test_a_deep_sigmoid_check_sets_aside_what_float64_cannot_resolve():
    """Ten sigmoid layers: the first ones' gradients vanish below what finite differences
    in float64 resolve; they are named and not counted, and the rest still pass."""
    lines, ok = diagnostics.gradient_check([784] + [100] * 10 + [10], "sigmoid")
    assert ok, "\n".join(lines)
    assert any(line.startswith("layers 1-") and "too small" in line for line in lines), lines


def wrong_derivative(monkeypatch, activation="tanh"):
    """Swap a wrong derivative into ACTIVATIONS: tanh's as 1 - A (the square forgotten)."""
    real = utils.ACTIVATIONS[activation]
    monkeypatch.setitem(utils.ACTIVATIONS, activation,
                        utils.Activation(real.f, lambda A: 1 - A, real.init))


def test_the_gradient_check_finds_a_wrong_derivative(monkeypatch):
    wrong_derivative(monkeypatch)
    lines, ok = diagnostics.gradient_check([784, 64, 32, 10], "tanh")
    assert not ok
    rows = {line.split()[0]: line for line in lines if line.startswith("  ")}
    assert "WRONG" in rows["2"] and "WRONG" in rows["1"] and "WRONG" not in rows["3"]
    assert float(rows["2"].split()[3]) > 1e-2  # dW of the last hidden layer: far off
    assert lines[-1].startswith("backward goes wrong at layer 2:"), lines[-1]


def run_main(args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main.main(list(args))
    return status, out.getvalue()


def test_gradcheck_command_exits_0_when_right_and_1_when_wrong(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no data files here: the check reads none
    status, out = run_main(["--GRADCHECK", "--ACTIVATION=tanh", "--LAYERS=[784,64,32,10]"])
    assert status == 0, out
    assert "backward is right" in out
    wrong_derivative(monkeypatch)
    status, out = run_main(["--GRADCHECK", "--ACTIVATION=tanh", "--LAYERS=[784,64,32,10]"])
    assert status == 1, out
    assert "backward goes wrong at layer 2" in out
    assert list(tmp_path.iterdir()) == []  # nothing written


# ----------------------------------------------------------------------------
# the statistics in a run


def test_reading_the_statistics_never_changes_training(mnist_small, monkeypatch):
    """main.train with the statistics and with them replaced by nothing: the same weights to
    the last bit, and one record before training and one after each epoch."""
    X, y = mnist_small
    with contextlib.redirect_stdout(io.StringIO()):
        c = settings.configure(main.DEFAULTS, ["--EPOCHS=2", "--BATCH_SIZE=64", "--THREADS=1",
                                               "--DROPOUT=0.2", "--BATCH_NORM=True"])
    c["LAYERS"] = [784, 24, 16, 10]

    def train():
        with contextlib.redirect_stdout(io.StringIO()):
            return main.train(c, X[:600], y[:600], X[600:800], y[600:800],
                              np.random.default_rng(0))

    looked = train()
    layers = looked["history"]["layers"]
    assert [r["epoch"] for r in layers] == [0, 1, 2]
    assert layers[0]["update"] is None and all(u > 0 for u in layers[1]["update"])
    assert layers[0]["rows"] == 200  # every validation row: fewer than PROBE_ROWS
    monkeypatch.setattr(diagnostics, "layer_stats", lambda *a, **k: {"epoch": 0})
    monkeypatch.setattr(diagnostics, "diagnose", lambda *a, **k: [])
    blind = train()
    for a, b in zip(looked["params"], blind["params"]):
        assert all(np.array_equal(a[k], b[k]) for k in a)
    for a, b in zip(looked["stats"], blind["stats"]):
        assert a is b is None or all(np.array_equal(a[k], b[k]) for k in a)


def test_one_epoch_is_not_called_a_low_learning_rate():
    """With EPOCHS=1 the cosine schedule ends near 0: the epoch's record carries that rate
    and tiny predicted steps, while epoch 0, at the full rate, shows healthy ones."""
    one_epoch = [record([1e-3] * 3, lr=0.05),
                 record([1e-3] * 3, epoch=1, lr=7e-7, step=[1e-8, 2e-8, 1e-8])]
    assert not any("too low" in line for line in diagnostics.diagnose(one_epoch))
