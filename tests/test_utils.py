"""utils.py, the network: gradients against finite differences, softmax and the loss,
optimisers against the formulas by hand, dropout, learning-rate schedules, max-norm,
the determinism of a training epoch, and the metrics."""

import itertools
import math

import hypothesis
import numpy as np
import pytest
from helpers import one_epoch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import utils

TOL = 1e-6  # the largest relative error allowed between analytic and numeric gradients



def _assert_gradients_match(errors):
    """Every layer's dW and db (or dgamma and dbeta) is non-zero and within TOL of the
    finite differences."""
    for layer, row in enumerate(errors):
        names = ("dW", "db") if len(row) == 2 else ("dW", "dgamma", "dbeta")
        assert len(row) == len(names)
        for name, (err, norm, _) in zip(names, row):
            assert norm > 1e-4, f"layer {layer}: {name} is zero, the check would prove nothing"
            assert err < TOL, f"layer {layer}: {name} relative error {err:.2e}"



# ----------------------------------------------------------------------------
# gradient checks: layers, activations, weight decay, dropout


@pytest.mark.parametrize("layers", [[6, 5, 3], [6, 5, 4, 4, 3], [7, 11, 2, 9, 4]],
                         ids=["one-hidden", "three-hidden", "uneven"])
def test_backward_matches_finite_differences(layers, grad_problem, gradient_errors):
    """Every layer's dW and db from backward agree with central differences (float64)."""
    params, X, y = grad_problem(layers, "relu", seed=1)
    errors = gradient_errors(params, X, y, "relu")
    assert len(errors) == len(layers) - 1
    _assert_gradients_match(errors)


def test_gradients_have_the_shapes_and_dtype_of_params(grad_problem):
    """backward returns one {W: dW, b: db} per layer, shaped and typed like {W, b}."""
    params, X, y = grad_problem([7, 11, 2, 9, 4])
    Z, cache = utils.forward(params, X)
    _, dZ = utils.softmax_cross_entropy(Z, y)
    grads = utils.backward(params, cache, dZ)
    assert [{k: g.shape for k, g in layer.items()} for layer in grads] == \
        [{k: p.shape for k, p in layer.items()} for layer in params]
    assert all(g.dtype == np.float64 for layer in grads for g in layer.values())


@pytest.mark.parametrize("activation", sorted(utils.ACTIVATIONS))
def test_gradient_check_for_each_activation(activation, grad_problem, gradient_errors):
    """backward agrees with finite differences for every activation (float64, two hidden)."""
    params, X, y = grad_problem([6, 5, 4, 3], activation, seed=2)
    _assert_gradients_match(gradient_errors(params, X, y, activation))


def test_leaky_relu_passes_gradient_through_negative_units(grad_problem, gradient_errors):
    """With every hidden pre-activation negative, leaky ReLU still has correct, non-zero grads."""
    params, X, y = grad_problem([6, 5, 3], "leaky_relu", seed=4)
    W = params[0]["W"]
    params[0] = {"W": W, "b": np.full(5, -50.0)}  # pushes every hidden unit far below 0
    assert np.all(X @ W - 50 < 0)
    _assert_gradients_match(gradient_errors(params, X, y, "leaky_relu"))


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_gradient_check_with_weight_decay(activation, grad_problem, gradient_errors):
    """backward(weight_decay=wd) is the gradient of cross_entropy + l2_penalty(params, wd)."""
    params, X, y = grad_problem([6, 5, 4, 3], activation, seed=5)
    wd = 0.3
    _assert_gradients_match(gradient_errors(params, X, y, activation, weight_decay=wd))
    # and the decay really is in there: the gradients differ from those without it
    Z, cache = utils.forward(params, X, activation)
    _, dZ = utils.softmax_cross_entropy(Z, y)
    plain = utils.backward(params, cache, dZ.copy(), activation)
    decayed = utils.backward(params, cache, dZ.copy(), activation, weight_decay=wd)
    for layer, g, g2 in zip(params, plain, decayed):
        np.testing.assert_allclose(g2["W"] - g["W"], wd * layer["W"], rtol=1e-10, atol=1e-14)
        np.testing.assert_array_equal(g2["b"], g["b"])  # biases are not decayed


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_gradient_check_with_a_fixed_dropout_mask(activation, grad_problem, gradient_errors):
    """With the same dropout masks in every forward pass, backward matches finite differences."""
    params, X, y = grad_problem([6, 8, 7, 3], activation, seed=6)
    masks = utils.dropout_masks(params, len(X), [0.5, 0.25], np.random.default_rng(9),
                                dtype=np.float64)
    assert all(m is not None and m.dtype == np.float64 for m in masks)
    assert all(np.any(m == 0) for m in masks)  # some units really are dropped
    _assert_gradients_match(gradient_errors(params, X, y, activation, masks=masks))


# ----------------------------------------------------------------------------
# batch normalisation: gradients, the normalisation itself, the running statistics


def _bn_problem(grad_problem, activation="relu", seed=10, layers=(6, 5, 4, 3)):
    """float64 params with batch normalisation on both hidden layers, X (n=12) and y."""
    params, X, y = grad_problem(list(layers), activation, seed=seed, batch_norm=True)
    assert [utils.is_normalised(layer) for layer in params] == [True] * (len(layers) - 2) + [False]
    return params, X, y


@pytest.mark.parametrize("activation", sorted(utils.ACTIVATIONS))
def test_gradient_check_with_batch_norm_for_each_activation(activation, grad_problem,
                                                           gradient_errors):
    """dW, dgamma, dbeta of normalised layers (and the output's dW, db) match finite differences."""
    params, X, y = _bn_problem(grad_problem, activation)
    errors = gradient_errors(params, X, y, activation)
    assert [len(row) for row in errors] == [3, 3, 2]
    _assert_gradients_match(errors)


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_gradient_check_with_batch_norm_and_a_dropout_mask(activation, grad_problem,
                                                          gradient_errors):
    """Batch normalisation followed by a fixed dropout mask: backward still matches."""
    params, X, y = _bn_problem(grad_problem, activation, seed=11, layers=(6, 8, 7, 3))
    masks = utils.dropout_masks(params, len(X), [0.5, 0.25], np.random.default_rng(9),
                                dtype=np.float64)
    assert all(np.any(m == 0) for m in masks)
    _assert_gradients_match(gradient_errors(params, X, y, activation, masks=masks))


def test_gradient_check_with_batch_norm_and_weight_decay(grad_problem, gradient_errors):
    """With weight decay, dW gains wd W; dgamma and dbeta are not decayed (nor in the loss)."""
    params, X, y = _bn_problem(grad_problem, "tanh", seed=12)
    wd = 0.3
    _assert_gradients_match(gradient_errors(params, X, y, "tanh", weight_decay=wd))
    Z, cache = utils.forward(params, X.copy(), "tanh")
    _, dZ = utils.softmax_cross_entropy(Z, y)
    plain = utils.backward(params, cache, dZ.copy(), "tanh")
    decayed = utils.backward(params, cache, dZ.copy(), "tanh", weight_decay=wd)
    for layer, g, g2 in zip(params, plain, decayed):
        np.testing.assert_allclose(g2["W"] - g["W"], wd * layer["W"], rtol=1e-10, atol=1e-14)
        for name in g:
            if name != "W":
                np.testing.assert_array_equal(g2[name], g[name])


def test_gradient_check_with_some_layers_normalised(grad_problem, gradient_errors):
    """A network whose first hidden layer is normalised and second is not (as a file may hold)."""
    params, X, y = _bn_problem(grad_problem, "leaky_relu", seed=13)
    W = params[1]["W"]
    params[1] = {"W": W, "b": np.random.default_rng(1).normal(0, 0.1, W.shape[1])}
    errors = gradient_errors(params, X, y, "leaky_relu")
    assert [len(row) for row in errors] == [3, 2, 2]
    _assert_gradients_match(errors)


def test_batch_norm_gradients_have_the_shapes_and_dtype_of_params(grad_problem):
    """backward returns (dW, dgamma, dbeta) for a normalised layer, shaped like its params."""
    params, X, y = _bn_problem(grad_problem)
    Z, cache = utils.forward(params, X)
    _, dZ = utils.softmax_cross_entropy(Z, y)
    grads = utils.backward(params, cache, dZ)
    assert [[g.shape for g in layer.values()] for layer in grads] == [[p.shape for p in layer.values()]
                                                             for layer in params]
    assert all(g.dtype == np.float64 for layer in grads for g in layer.values())


def test_batch_norm_backward_is_the_three_term_form():
    """The compact dZ equals (dZhat - mean(dZhat) - Zhat mean(dZhat Zhat)) / sqrt(var + eps)."""
    rng = np.random.default_rng(14)
    Z = rng.normal(3, 2, (9, 5))
    gamma, beta = rng.normal(1, 0.3, 5), rng.normal(0, 0.3, 5)
    dY = rng.standard_normal((9, 5))
    _, norm = utils.batch_norm(Z.copy(), gamma, beta)
    dZ, dgamma, dbeta = utils.batch_norm_backward(dY.copy(), gamma, norm)
    var = Z.var(axis=0)
    Zhat = (Z - Z.mean(axis=0)) / np.sqrt(var + utils.BN_EPS)
    dZhat = dY * gamma
    expected = (dZhat - dZhat.mean(axis=0) - Zhat * (dZhat * Zhat).mean(axis=0)) \
        / np.sqrt(var + utils.BN_EPS)
    np.testing.assert_allclose(dZ, expected, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(dgamma, (dY * Zhat).sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(dbeta, dY.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(dZ.sum(axis=0), 0, atol=1e-12)  # a shift of Z changes nothing


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_training_normalises_each_unit_to_mean_0_variance_1(dtype):
    """In training, each hidden unit's Zhat has mean 0 and variance 1 over the batch, and the
    layer's output is gamma Zhat + beta: checked at every layer of a forward pass."""
    rng = np.random.default_rng(15)
    params = utils.init_params([20, 16, 12, 5], rng, dtype=dtype, batch_norm=True)
    params = [{"W": layer["W"] * 7,
               "gamma": rng.normal(1, 0.5, layer["gamma"].shape).astype(dtype),
               "beta": rng.normal(0, 2, layer["beta"].shape).astype(dtype)}
              if utils.is_normalised(layer) else layer for layer in params]
    X = rng.normal(5, 3, (64, 20)).astype(dtype)  # far from mean 0, variance 1
    _, cache = utils.forward(params, X, "relu")
    inputs, acts, norms = ([step[k] for step in cache] for k in ("A_prev", "A", "norm"))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for l in range(2):
        Zhat, _, mu, var = norms[l]
        assert Zhat.dtype == dtype
        Z = inputs[l].astype(np.float64) @ params[l]["W"].astype(np.float64)
        assert np.all(Z.var(axis=0) > 1)  # the normalisation has work to do
        np.testing.assert_allclose(Zhat.mean(axis=0), 0, atol=tol)
        np.testing.assert_allclose(Zhat.var(axis=0), 1, atol=tol + utils.BN_EPS)
        np.testing.assert_allclose(mu, Z.mean(axis=0), rtol=tol)
        np.testing.assert_allclose(var, Z.var(axis=0), rtol=10 * tol)
        gamma, beta = params[l]["gamma"], params[l]["beta"]
        np.testing.assert_allclose(acts[l], np.maximum(gamma * Zhat + beta, 0),
                                   rtol=tol, atol=tol)


def _trained_bn(mnist_small, activation="relu", seed=16, n=1000):
    """A [784, 32, 16, 10] network with batch normalisation after one epoch, and its stats."""
    X, y = mnist_small[0][:n], mnist_small[1][:n]
    rng = np.random.default_rng(seed)
    params = utils.init_params([784, 32, 16, 10], rng, batch_norm=True)
    stats = utils.init_stats(params)
    state = utils.init_state(params)
    result = utils.train_epoch(params, state, X, y, 50, rng, lambda step: 0.05,
                               activation=activation, stats=stats)
    assert result["status"] == "ok"
    return params, stats, X, y


def test_evaluation_uses_running_statistics_row_by_row(mnist_small):
    """With stats, a row alone gets the logits it gets within a batch; in training mode,
    where the batch's statistics are used, it does not (the check can fail)."""
    params, stats, X, y = _trained_bn(mnist_small)
    X = X[:200]
    together = utils.predict_logits(params, X, stats=stats)
    alone = np.concatenate([utils.predict_logits(params, X[i:i + 1], stats=stats)
                            for i in range(len(X))])
    np.testing.assert_allclose(alone, together, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(alone.argmax(axis=1), together.argmax(axis=1))
    shuffled = utils.predict_logits(params, X[::-1], stats=stats)[::-1]
    np.testing.assert_allclose(shuffled, together, rtol=1e-5, atol=1e-5)
    # the running statistics are really used: by hand, layer by layer
    A = utils.normalise(X).astype(np.float64)
    for l, layer in enumerate(params):
        Z = A @ layer["W"]
        if not utils.is_normalised(layer):
            Z = Z + layer["b"]
            break
        mean, var = stats[l]["mean"], stats[l]["var"]
        A = np.maximum(layer["gamma"] * (Z - mean) / np.sqrt(var + utils.BN_EPS) + layer["beta"], 0)
    np.testing.assert_allclose(together, Z, rtol=1e-4, atol=1e-4)
    # training mode, by contrast, depends on the batch
    batch_logits = utils.forward(params, utils.normalise(X))[0]
    one_row = utils.forward(params, utils.normalise(X[:1]))[0]
    assert not np.allclose(one_row[0], batch_logits[0], atol=1e-3)
    assert utils.accuracy(together, y[:200]) > 0.7  # a trained network


def test_predict_without_running_statistics_is_refused(mnist_small):
    """predict_logits and evaluate of a normalised network without stats raise ValueError."""
    params, stats, X, y = _trained_bn(mnist_small, n=200)
    with pytest.raises(ValueError, match="running statistics"):
        utils.predict_logits(params, X)
    with pytest.raises(ValueError, match="running statistics"):
        utils.evaluate(params, X, y)
    assert 0 <= utils.evaluate(params, X, y, stats=stats)[1] <= 1


def test_running_statistics_after_two_steps_by_hand():
    """update_stats, through train_step: mean = 0.9 mean + 0.1 mu, var = 0.9 var + 0.1 unbiased
    var of the batch, twice over; the step's W is the one the second batch meets."""
    rng = np.random.default_rng(17)
    params = utils.init_params([5, 4, 3], rng, dtype=np.float64, batch_norm=True)
    stats = utils.init_stats(params)
    assert stats[1] is None
    np.testing.assert_array_equal(stats[0]["mean"], np.zeros(4))
    np.testing.assert_array_equal(stats[0]["var"], np.ones(4))
    state = utils.init_state(params, "sgd")
    mean, var = np.zeros(4), np.ones(4)
    for step in range(2):
        X = rng.normal(2, 3, (6, 5))
        y = rng.integers(0, 3, 6)
        Z = X @ params[0]["W"]  # with the W of this step, before its update
        W_before = params[0]["W"].copy()
        utils.train_step(params, state, X, y, 0.5, rng, "relu", optimiser="sgd", stats=stats)
        assert not np.array_equal(params[0]["W"], W_before)  # the weights moved
        mean = 0.9 * mean + 0.1 * Z.mean(axis=0)
        var = 0.9 * var + 0.1 * Z.var(axis=0, ddof=1)
        np.testing.assert_allclose(stats[0]["mean"], mean, rtol=1e-12)
        np.testing.assert_allclose(stats[0]["var"], var, rtol=1e-12)


def test_a_training_batch_of_one_row(mnist_small):
    """update_stats refuses one row (no variance); train_epoch skips a last batch of one row
    when a layer is normalised, and takes it when none is."""
    X, y = mnist_small[0][:41], mnist_small[1][:41]  # batches of 20, 20 and 1
    for batch_norm, steps in [(True, 2), (False, 3)]:
        rng = np.random.default_rng(18)
        params = utils.init_params([784, 8, 10], rng, batch_norm=batch_norm)
        stats = utils.init_stats(params)
        state = utils.init_state(params)
        result = utils.train_epoch(params, state, X, y, 20, rng, lambda step: 0.05, stats=stats)
        assert result["status"] == "ok"
        assert state["step"] == steps
        assert all(np.isfinite(p).all() for layer in params for p in layer.values())
    params = utils.init_params([784, 8, 10], np.random.default_rng(0), batch_norm=True)
    Z, cache = utils.forward(params, utils.normalise(X[:1]))
    assert np.isfinite(Z).all()  # eps keeps the division finite
    with pytest.raises(ValueError, match="at least 2 rows"):
        utils.update_stats(utils.init_stats(params), cache)


@pytest.mark.parametrize("optimiser", ["sgd", "momentum", "nesterov", "adam", "adamw"])
def test_batch_norm_trains_with_every_optimiser_and_regulariser(mnist_small, optimiser):
    """An epoch with batch normalisation, dropout, weight decay and max-norm, for each
    optimiser: gamma, beta and the running statistics move, and the network learns."""
    X, y = mnist_small[0][:1000], mnist_small[1][:1000]
    rng = np.random.default_rng(19)
    params = utils.init_params([784, 32, 16, 10], rng, batch_norm=True)
    stats = utils.init_stats(params)
    state = utils.init_state(params, optimiser)
    lr = 1e-2 if optimiser.startswith("adam") else 0.05
    result = utils.train_epoch(params, state, X, y, 50, rng, lambda step: lr,
                               dropout=[0.2, 0.1], weight_decay=5e-4, optimiser=optimiser,
                               max_norm_c=3.0, stats=stats)
    assert result["status"] == "ok"
    for layer, running in zip(params[:2], stats[:2]):
        W, gamma, beta = layer["W"], layer["gamma"], layer["beta"]
        mean, var = running["mean"], running["var"]
        assert np.all(np.linalg.norm(W, axis=0) <= 3.0 + 1e-5)
        assert not np.allclose(gamma, 1) and not np.allclose(beta, 0)
        assert not np.allclose(mean, 0) and np.all(var > 0) and not np.allclose(var, 1)
    assert utils.evaluate(params, X, y, stats=stats)[1] > 0.6


def test_adamw_and_max_norm_leave_gamma_and_beta_alone():
    """adamw's decoupled decay and max_norm act on W only, never on gamma or beta."""
    W = np.array([[3.0, -4.0], [4.0, 3.0]])
    params = [{"W": W.copy(), "gamma": np.array([2.0, 5.0]), "beta": np.array([-3.0, 7.0])}]
    grads = [{"W": np.zeros((2, 2)), "gamma": np.zeros(2), "beta": np.zeros(2)}]
    state = utils.init_state(params, "adamw")
    utils.update(params, grads, state, 0.1, "adamw", weight_decay=0.5)
    np.testing.assert_allclose(params[0]["W"], W * (1 - 0.1 * 0.5))
    np.testing.assert_array_equal(params[0]["gamma"], [2.0, 5.0])
    np.testing.assert_array_equal(params[0]["beta"], [-3.0, 7.0])
    utils.max_norm(params, 1.0)
    np.testing.assert_allclose(np.linalg.norm(params[0]["W"], axis=0), 1.0)
    np.testing.assert_array_equal(params[0]["gamma"], [2.0, 5.0])
    np.testing.assert_array_equal(params[0]["beta"], [-3.0, 7.0])


def test_init_with_batch_norm_draws_the_same_weights():
    """batch_norm=True gives the same W, gamma 1 and beta 0 on hidden layers, a bias on the
    output; count_params counts the extra parameter per hidden unit."""
    plain = utils.init_params([7, 5, 4, 3], np.random.default_rng(20))
    normed = utils.init_params([7, 5, 4, 3], np.random.default_rng(20), batch_norm=True)
    for layer, layer2 in zip(plain, normed):
        np.testing.assert_array_equal(layer["W"], layer2["W"])
    assert [sorted(layer) for layer in normed] == [["W", "beta", "gamma"]] * 2 + [["W", "b"]]
    for W, gamma, beta in (layer.values() for layer in normed[:2]):
        np.testing.assert_array_equal(gamma, np.ones(W.shape[1], np.float32))
        np.testing.assert_array_equal(beta, np.zeros(W.shape[1], np.float32))
    assert utils.init_stats(plain) is None
    assert utils.count_params([7, 5, 4, 3]) == sum(p.size for layer in plain for p in layer.values())
    assert utils.count_params([7, 5, 4, 3], batch_norm=True) == sum(
        p.size for layer in normed for p in layer.values())


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
# optimisers: one or two steps on a tiny problem, against the formulas by hand

LR, MU, WD = 0.1, 0.9, 0.05
B1, B2, EPS = 0.9, 0.999, 1e-8


def _tiny():
    """One layer: W = [[1, -2]], b = [0.5, 0]; and two fixed gradients to apply in turn."""
    params = [{"W": np.array([[1.0, -2.0]]), "b": np.array([0.5, 0.0])}]
    grads = [{"W": np.array([[0.2, -0.4]]), "b": np.array([0.1, -0.3])},
             {"W": np.array([[-0.6, 0.1]]), "b": np.array([0.3, 0.05])}]
    return params, grads


def _wb(layers):
    """The (W, b) pairs of a list of {W, b} layers, to unpack."""
    return [(layer["W"], layer["b"]) for layer in layers]


def _run(optimiser, n_steps, **options):
    """Take n_steps of update with the tiny problem's gradients; return params and state."""
    params, grads = _tiny()
    state = utils.init_state(params, optimiser)
    for g in grads[:n_steps]:
        given = {k: a.copy() for k, a in g.items()}
        utils.update(params, [given], state, LR, optimiser, **options)
        for k in g:  # update leaves the gradients as they were
            np.testing.assert_array_equal(given[k], g[k])
    return params, state


def _check(params, expected_W, expected_b):
    """The single layer's W and b equal the hand-computed values."""
    (W, b), = _wb(params)
    np.testing.assert_allclose(W, expected_W, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(b, expected_b, rtol=1e-12, atol=1e-15)


def test_sgd_step():
    """sgd: p -= lr g."""
    (W0, b0), = _wb(_tiny()[0])
    (gW, gb), _ = _wb(_tiny()[1])
    params, state = _run("sgd", 1)
    _check(params, W0 - LR * gW, b0 - LR * gb)
    assert state["step"] == 1


def test_momentum_two_steps_accumulate_velocity():
    """momentum: v = mu v + g; p -= lr v, twice, so the second step carries the first."""
    (W0, b0), = _wb(_tiny()[0])
    (g1W, g1b), (g2W, g2b) = _wb(_tiny()[1])
    params, state = _run("momentum", 1, momentum=MU)
    _check(params, W0 - LR * g1W, b0 - LR * g1b)
    params, state = _run("momentum", 2, momentum=MU)
    vW, vb = MU * g1W + g2W, MU * g1b + g2b
    _check(params, W0 - LR * g1W - LR * vW, b0 - LR * g1b - LR * vb)
    assert state["step"] == 2


def test_nesterov_two_steps():
    """nesterov: v = mu v + g; p -= lr (g + mu v)."""
    (W0, b0), = _wb(_tiny()[0])
    (g1W, g1b), (g2W, g2b) = _wb(_tiny()[1])
    params, _ = _run("nesterov", 1, momentum=MU)
    _check(params, W0 - LR * (g1W + MU * g1W), b0 - LR * (g1b + MU * g1b))
    params, _ = _run("nesterov", 2, momentum=MU)
    v2W, v2b = MU * g1W + g2W, MU * g1b + g2b
    _check(params, W0 - LR * (g1W + MU * g1W) - LR * (g2W + MU * v2W),
           b0 - LR * (g1b + MU * g1b) - LR * (g2b + MU * v2b))


def _adam_by_hand(p, gs):
    """Adam with bias correction, written out step by step."""
    m = v = 0.0
    for t, g in enumerate(gs, start=1):
        m = B1 * m + (1 - B1) * g
        v = B2 * v + (1 - B2) * g * g
        p = p - LR * (m / (1 - B1 ** t)) / (np.sqrt(v / (1 - B2 ** t)) + EPS)
    return p


def test_adam_first_step_is_lr_times_sign_of_g():
    """adam: the first bias-corrected step is lr g / (|g| + eps), about lr sign(g)."""
    (W0, b0), = _wb(_tiny()[0])
    (gW, gb), _ = _wb(_tiny()[1])
    params, state = _run("adam", 1)
    _check(params, W0 - LR * gW / (np.abs(gW) + EPS), b0 - LR * gb / (np.abs(gb) + EPS))
    np.testing.assert_allclose(params[0]["W"], W0 - LR * np.sign(gW), rtol=1e-6)
    np.testing.assert_allclose(state["m"][0]["W"], (1 - B1) * gW, rtol=1e-12)
    np.testing.assert_allclose(state["v"][0]["W"], (1 - B2) * gW * gW, rtol=1e-12)


def test_adam_second_step_uses_bias_correction_of_step_two():
    """adam, two steps: m and v are corrected by 1 - beta ** 2 on the second."""
    (W0, b0), = _wb(_tiny()[0])
    (g1W, g1b), (g2W, g2b) = _wb(_tiny()[1])
    params, state = _run("adam", 2)
    _check(params, _adam_by_hand(W0, [g1W, g2W]), _adam_by_hand(b0, [g1b, g2b]))
    assert state["step"] == 2


def test_adam_ignores_weight_decay():
    """adam's L2 decay is in the gradient (backward), so update's weight_decay changes nothing."""
    plain, _ = _run("adam", 2)
    decayed, _ = _run("adam", 2, weight_decay=WD)
    _check(decayed, plain[0]["W"], plain[0]["b"])


def test_adamw_decays_weights_not_biases():
    """adamw: adam's step plus W -= lr wd W on the weights only."""
    (W0, b0), = _wb(_tiny()[0])
    (gW, gb), _ = _wb(_tiny()[1])
    params, _ = _run("adamw", 1, weight_decay=WD)
    _check(params, W0 - LR * WD * W0 - LR * gW / (np.abs(gW) + EPS),
           b0 - LR * gb / (np.abs(gb) + EPS))


@pytest.mark.parametrize("optimiser", ["sgd", "momentum", "nesterov", "adam", "adamw"])
def test_update_leaves_the_gradients_as_they_were(optimiser):
    """update moves params and its state, never the grads it is given: a learner who prints
    |dW| after the step sees the gradient, not lr times it (a batch-normalised layer too)."""
    rng = np.random.default_rng(3)
    params = utils.init_params([6, 5, 4, 3], rng, dtype=np.float64, batch_norm=True)
    grads = [{k: rng.standard_normal(p.shape) for k, p in layer.items()} for layer in params]
    kept, before = utils.copy_params(grads), utils.copy_params(params)
    state = utils.init_state(params, optimiser)
    for _ in range(2):
        utils.update(params, grads, state, 0.1, optimiser, weight_decay=0.01)
    for g, g0, p, p0 in zip(grads, kept, params, before):
        for k in g:
            np.testing.assert_array_equal(g[k], g0[k])
            assert not np.array_equal(p[k], p0[k])  # while the parameters did move


def test_unknown_optimiser_is_refused():
    """update with an optimiser it does not know raises ValueError."""
    params, grads = _tiny()
    with pytest.raises(ValueError, match="unknown optimiser"):
        utils.update(params, [grads[0]], {"step": 0}, LR, "adagrad")


# ----------------------------------------------------------------------------
# dropout


def _net(layers, seed=0, dtype=np.float32):
    """He-initialised params with small random biases."""
    rng = np.random.default_rng(seed)
    params = utils.init_params(layers, rng, dtype=dtype)
    return [{"W": layer["W"], "b": rng.normal(0, 0.1, layer["b"].shape).astype(dtype)}
            for layer in params]


def test_dropout_rate_zero_gives_no_masks_and_no_change():
    """Rate 0 gives None masks, and forward with them equals forward without masks."""
    params = _net([20, 16, 12, 5])
    X = np.random.default_rng(1).random((30, 20), dtype=np.float32)
    masks = utils.dropout_masks(params, len(X), [0.0, 0.0], np.random.default_rng(2))
    assert masks == [None, None]
    Z_masked, _ = utils.forward(params, X, "relu", masks)
    Z_plain, _ = utils.forward(params, X, "relu", None)
    np.testing.assert_array_equal(Z_masked, Z_plain)


def test_dropout_mask_is_inverted_and_keeps_the_mean():
    """At p = 0.5 the mask's values are 0 or 2, half of each, and its mean is 1 within 0.02."""
    params = _net([4, 1000, 300, 3])
    masks = utils.dropout_masks(params, 200, [0.5, 0.2], np.random.default_rng(3))
    mask, second = masks
    assert mask.shape == (200, 1000)
    assert mask.dtype == np.float32
    assert set(np.unique(mask).tolist()) == {0.0, 2.0}
    assert abs(mask.mean() - 1) < 0.02
    assert abs(np.mean(mask == 0) - 0.5) < 0.01
    assert second.shape == (200, 300)
    np.testing.assert_allclose(np.unique(second), [0.0, 1.25], rtol=1e-6)
    assert abs(np.mean(second == 0) - 0.2) < 0.01


def test_dropout_changes_the_training_forward_pass():
    """forward with a real mask differs from forward without one (the mask is used)."""
    params = _net([20, 16, 5])
    X = np.random.default_rng(1).random((30, 20), dtype=np.float32)
    masks = utils.dropout_masks(params, len(X), [0.5], np.random.default_rng(2))
    assert not np.allclose(utils.forward(params, X, "relu", masks)[0],
                           utils.forward(params, X, "relu")[0])


def test_evaluation_uses_no_dropout(mnist_small):
    """evaluate and predict_logits are repeatable and equal forward with masks=None."""
    X, y = mnist_small[0][:300], mnist_small[1][:300]
    params = _net([784, 32, 10])
    Z = utils.predict_logits(params, X, batch_size=128)
    np.testing.assert_array_equal(Z, utils.predict_logits(params, X, batch_size=128))
    expected = utils.forward(params, utils.normalise(X), "relu", None)[0]
    np.testing.assert_allclose(Z, expected, rtol=1e-5, atol=1e-5)
    first, second = utils.evaluate(params, X, y), utils.evaluate(params, X, y)
    assert first == second
    assert first[0] == pytest.approx(utils.cross_entropy(expected, y), rel=1e-5)
    assert first[1] == utils.accuracy(expected, y)


# ----------------------------------------------------------------------------
# learning-rate schedules


def test_constant_schedule():
    """constant: lr at every step."""
    assert [utils.learning_rate(s, 100, 0.3, "constant") for s in (0, 1, 50, 99)] == [0.3] * 4


def test_step_schedule():
    """step: lr * gamma ** (step // step_every)."""
    values = [utils.learning_rate(s, 100, 0.8, "step", step_every=10, gamma=0.5)
              for s in (0, 9, 10, 19, 20, 35)]
    assert values == pytest.approx([0.8, 0.8, 0.4, 0.4, 0.2, 0.1], rel=1e-12)


def test_cosine_schedule():
    """cosine: lr at 0, lr / 2 half way, 0 at the end, never increasing."""
    def lr(s):
        return utils.learning_rate(s, 100, 0.4, "cosine")

    assert lr(0) == pytest.approx(0.4, rel=1e-12)
    assert lr(25) == pytest.approx(0.2 * (1 + math.cos(math.pi / 4)), rel=1e-12)
    assert lr(50) == pytest.approx(0.2, rel=1e-12)
    assert lr(100) == pytest.approx(0.0, abs=1e-12)
    assert 0 < lr(99) < 1e-3
    values = [lr(s) for s in range(101)]
    assert all(a >= b for a, b in itertools.pairwise(values))


def test_warm_up_ramps_linearly_then_follows_the_schedule():
    """Warm-up over 10 steps: lr / 10, 2 lr / 10, ... lr; then cosine from the warm-up's end."""
    def lr(s):
        return utils.learning_rate(s, 110, 0.5, "cosine", warmup_steps=10)

    assert lr(0) == pytest.approx(0.05, rel=1e-12)
    ramp = [lr(s) for s in range(10)]
    assert ramp == pytest.approx([0.05 * (s + 1) for s in range(10)], rel=1e-12)
    assert lr(10) == pytest.approx(0.5, rel=1e-12)
    assert lr(60) == pytest.approx(0.25, rel=1e-12)
    assert lr(110) == pytest.approx(0.0, abs=1e-12)
    assert utils.learning_rate(3, 100, 0.5, "constant", warmup_steps=4) == pytest.approx(0.5)
    assert utils.learning_rate(4, 100, 0.5, "constant", warmup_steps=4) == 0.5


def test_unknown_schedule_is_refused():
    """learning_rate with a schedule it does not know raises ValueError."""
    with pytest.raises(ValueError, match="unknown schedule"):
        utils.learning_rate(0, 10, 0.1, "linear")


# ----------------------------------------------------------------------------
# max-norm


def test_max_norm_caps_columns_and_leaves_small_ones_alone():
    """After max_norm(params, c) every column norm is <= c; columns already below c are unchanged."""
    rng = np.random.default_rng(4)
    W1 = rng.normal(0, 1, (30, 6)).astype(np.float32)
    W1[:, :3] *= 0.05  # these columns have norms well below 1
    W2 = rng.normal(0, 1, (6, 4)).astype(np.float32)
    params = [{"W": W1, "b": np.full(6, 5.0, np.float32)},
              {"W": W2, "b": np.full(4, -7.0, np.float32)}]
    before = [(W.copy(), b.copy()) for W, b in _wb(params)]
    c = 1.0
    utils.max_norm(params, c)
    for (W, b), (W0, b0) in zip(_wb(params), before):
        norms0, norms = np.linalg.norm(W0, axis=0), np.linalg.norm(W, axis=0)
        assert np.all(norms <= c + 1e-6)
        small = norms0 <= c
        np.testing.assert_array_equal(W[:, small], W0[:, small])
        np.testing.assert_allclose(norms[~small], c, rtol=1e-6)
        # a capped column keeps its direction
        np.testing.assert_allclose(W[:, ~small] * norms0[~small], W0[:, ~small] * c,
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(b, b0)  # biases are not capped
    assert np.any(np.linalg.norm(before[0][0], axis=0) > c)  # some column was capped


@hypothesis.settings(max_examples=40, deadline=None)
@given(W=arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 6)),
                elements=st.floats(-1e3, 1e3)),
       c=st.floats(1e-3, 1e2))
def test_max_norm_property(W, c):
    """For any W and c > 0: column norms end <= c, and columns below c stay exactly as they were."""
    W0 = W.copy()
    utils.max_norm([{"W": W, "b": np.zeros(W.shape[1])}], c)
    norms0 = np.linalg.norm(W0, axis=0)
    assert np.all(np.linalg.norm(W, axis=0) <= c * (1 + 1e-9) + 1e-12)
    small = norms0 <= c
    np.testing.assert_array_equal(W[:, small], W0[:, small])


# ----------------------------------------------------------------------------
# a training epoch


def test_training_is_deterministic_given_the_seed(mnist_small):
    """The same seed gives bit-identical params after an epoch; another seed does not."""
    X, y = mnist_small[0][:1000], mnist_small[1][:1000]
    first, again, other = (one_epoch(s, X, y) for s in (7, 7, 8))
    for layer, twin in zip(first, again):
        assert np.array_equal(layer["W"], twin["W"])
        assert np.array_equal(layer["b"], twin["b"])
    assert not all(np.array_equal(layer["W"], twin["W"]) for layer, twin in zip(first, other))


# ----------------------------------------------------------------------------
# metrics: the confusion matrix


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


def test_batch_norm_in_evaluation_is_the_formula_worked_by_hand():
    """Evaluation: (Z - running mean) / sqrt(running var + eps) * gamma + beta, eps included
    (a unit whose running variance is 0 stays finite)."""
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((5, 3))
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    mean, var = rng.standard_normal(3), np.array([0.5, 2.0, 0.0])
    expected = (Z - mean) / np.sqrt(var + utils.BN_EPS) * gamma + beta
    Y, norm = utils.batch_norm(Z.copy(), gamma, beta, running={"mean": mean, "var": var})
    assert norm is None and np.isfinite(Y).all()
    np.testing.assert_allclose(Y, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("init", "variance"), [("he", lambda n_in, n_out: 2 / n_in),
                                                ("glorot", lambda n_in, n_out: 2 / (n_in + n_out))])
def test_initial_weights_have_the_variance_of_their_method(init, variance):
    """He et al. 2015: 2 / inputs; Glorot and Bengio 2010: 2 / (inputs + outputs); biases 0."""
    (W, b), = _wb(utils.init_params([1000, 400], np.random.default_rng(1), init,
                                    dtype=np.float64))
    assert W.var() == pytest.approx(variance(1000, 400), rel=0.02)  # 400,000 draws: ~0.2%
    assert abs(W.mean()) < 1e-3 and not b.any()


def test_normalise_maps_0_to_255_onto_0_to_1():
    X = np.array([[0, 51, 255]], dtype=np.uint8)
    np.testing.assert_allclose(utils.normalise(X), [[0.0, 0.2, 1.0]], rtol=1e-7)
    assert utils.normalise(X).dtype == np.float32
