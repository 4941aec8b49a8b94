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
    """Every layer's dW and db is non-zero and within TOL of the finite differences."""
    for layer, (err_W, err_b, norm_W, norm_b) in enumerate(errors):
        assert norm_W > 1e-4, f"layer {layer}: dW is zero, the check would prove nothing"
        assert norm_b > 1e-4, f"layer {layer}: db is zero, the check would prove nothing"
        assert err_W < TOL, f"layer {layer}: dW relative error {err_W:.2e}"
        assert err_b < TOL, f"layer {layer}: db relative error {err_b:.2e}"



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
    """backward returns one (dW, db) per layer, shaped and typed like (W, b)."""
    params, X, y = grad_problem([7, 11, 2, 9, 4])
    Z, cache = utils.forward(params, X)
    _, dZ = utils.softmax_cross_entropy(Z, y)
    grads = utils.backward(params, cache, dZ)
    assert [(dW.shape, db.shape) for dW, db in grads] == [(W.shape, b.shape) for W, b in params]
    assert all(dW.dtype == np.float64 and db.dtype == np.float64 for dW, db in grads)


@pytest.mark.parametrize("activation", sorted(utils.ACTIVATIONS))
def test_gradient_check_for_each_activation(activation, grad_problem, gradient_errors):
    """backward agrees with finite differences for every activation (float64, two hidden)."""
    params, X, y = grad_problem([6, 5, 4, 3], activation, seed=2)
    _assert_gradients_match(gradient_errors(params, X, y, activation))


def test_leaky_relu_passes_gradient_through_negative_units(grad_problem, gradient_errors):
    """With every hidden pre-activation negative, leaky ReLU still has correct, non-zero grads."""
    params, X, y = grad_problem([6, 5, 3], "leaky_relu", seed=4)
    W, _ = params[0]
    params[0] = (W, np.full(5, -50.0))  # pushes every hidden unit far below 0
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
    for (W, _), (dW, db), (dW2, db2) in zip(params, plain, decayed):
        np.testing.assert_allclose(dW2 - dW, wd * W, rtol=1e-10, atol=1e-14)
        np.testing.assert_array_equal(db2, db)  # biases are not decayed


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
    params = [(np.array([[1.0, -2.0]]), np.array([0.5, 0.0]))]
    grads = [(np.array([[0.2, -0.4]]), np.array([0.1, -0.3])),
             (np.array([[-0.6, 0.1]]), np.array([0.3, 0.05]))]
    return params, grads


def _run(optimiser, n_steps, **options):
    """Take n_steps of update with the tiny problem's gradients; return params and state."""
    params, grads = _tiny()
    state = utils.init_state(params, optimiser)
    for g in grads[:n_steps]:
        utils.update(params, [(g[0].copy(), g[1].copy())], state, LR, optimiser, **options)
    return params, state


def _check(params, expected_W, expected_b):
    """The single layer's (W, b) equals the hand-computed values."""
    (W, b), = params
    np.testing.assert_allclose(W, expected_W, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(b, expected_b, rtol=1e-12, atol=1e-15)


def test_sgd_step():
    """sgd: p -= lr g."""
    (W0, b0), = _tiny()[0]
    (gW, gb), _ = _tiny()[1]
    params, state = _run("sgd", 1)
    _check(params, W0 - LR * gW, b0 - LR * gb)
    assert state["step"] == 1


def test_momentum_two_steps_accumulate_velocity():
    """momentum: v = mu v + g; p -= lr v, twice, so the second step carries the first."""
    (W0, b0), = _tiny()[0]
    (g1W, g1b), (g2W, g2b) = _tiny()[1]
    params, state = _run("momentum", 1, momentum=MU)
    _check(params, W0 - LR * g1W, b0 - LR * g1b)
    params, state = _run("momentum", 2, momentum=MU)
    vW, vb = MU * g1W + g2W, MU * g1b + g2b
    _check(params, W0 - LR * g1W - LR * vW, b0 - LR * g1b - LR * vb)
    assert state["step"] == 2


def test_nesterov_two_steps():
    """nesterov: v = mu v + g; p -= lr (g + mu v)."""
    (W0, b0), = _tiny()[0]
    (g1W, g1b), (g2W, g2b) = _tiny()[1]
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
    (W0, b0), = _tiny()[0]
    (gW, gb), _ = _tiny()[1]
    params, state = _run("adam", 1)
    _check(params, W0 - LR * gW / (np.abs(gW) + EPS), b0 - LR * gb / (np.abs(gb) + EPS))
    np.testing.assert_allclose(params[0][0], W0 - LR * np.sign(gW), rtol=1e-6)
    np.testing.assert_allclose(state["m"][0][0], (1 - B1) * gW, rtol=1e-12)
    np.testing.assert_allclose(state["v"][0][0], (1 - B2) * gW * gW, rtol=1e-12)


def test_adam_second_step_uses_bias_correction_of_step_two():
    """adam, two steps: m and v are corrected by 1 - beta ** 2 on the second."""
    (W0, b0), = _tiny()[0]
    (g1W, g1b), (g2W, g2b) = _tiny()[1]
    params, state = _run("adam", 2)
    _check(params, _adam_by_hand(W0, [g1W, g2W]), _adam_by_hand(b0, [g1b, g2b]))
    assert state["step"] == 2


def test_adam_ignores_weight_decay():
    """adam's L2 decay is in the gradient (backward), so update's weight_decay changes nothing."""
    plain, _ = _run("adam", 2)
    decayed, _ = _run("adam", 2, weight_decay=WD)
    _check(decayed, plain[0][0], plain[0][1])


def test_adamw_decays_weights_not_biases():
    """adamw: adam's step plus W -= lr wd W on the weights only."""
    (W0, b0), = _tiny()[0]
    (gW, gb), _ = _tiny()[1]
    params, _ = _run("adamw", 1, weight_decay=WD)
    _check(params, W0 - LR * WD * W0 - LR * gW / (np.abs(gW) + EPS),
           b0 - LR * gb / (np.abs(gb) + EPS))


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
    return [(W, rng.normal(0, 0.1, b.shape).astype(dtype)) for W, b in params]


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
    params = [(W1, np.full(6, 5.0, np.float32)), (W2, np.full(4, -7.0, np.float32))]
    before = [(W.copy(), b.copy()) for W, b in params]
    c = 1.0
    utils.max_norm(params, c)
    for (W, b), (W0, b0) in zip(params, before):
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
    utils.max_norm([(W, np.zeros(W.shape[1]))], c)
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
    for (W1, b1), (W2, b2) in zip(first, again):
        assert np.array_equal(W1, W2)
        assert np.array_equal(b1, b2)
    assert not all(np.array_equal(W1, W3) for (W1, _), (W3, _) in zip(first, other))


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
