"""Issue 4: activations, regularisation, optimisers, schedules, early stopping, augmentation."""

import contextlib
import io
import itertools
import math

import hypothesis
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import data
import main
import settings
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
# gradient checks: activations, weight decay, dropout


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
# early stopping


def test_early_stopping_keeps_the_best_epoch(mnist_small):
    """PATIENCE=2 stops early and returns the params of the best validation epoch."""
    X, y = mnist_small
    X_train, y_train, X_val, y_val = X[:500], y[:500], X[500:800], y[500:800]
    epochs = 30
    with contextlib.redirect_stdout(io.StringIO()):
        c = settings.configure(main.DEFAULTS, ["--LEARNING_RATE=0.5", "--SCHEDULE=constant", "--OPTIMISER=sgd",
                            "--BATCH_SIZE=50", "--PATIENCE=2", f"--EPOCHS={epochs}"])
        settings.check(c)
        params, best_epoch, history, status = main.train(
            c, [784, 32, 10], X_train, y_train, X_val, y_val, np.random.default_rng(0),
            quiet=True)
    assert status == "ok"
    val_acc, val_loss = history["val_acc"], history["val_loss"]
    n = len(history["epoch"])
    assert history["epoch"] == list(range(1, n + 1))
    # stopped early, exactly PATIENCE epochs after the best one
    assert n < epochs
    assert n == best_epoch + 2
    # the best epoch has the highest validation accuracy, ties going to the lower loss
    assert val_acc[best_epoch - 1] == max(val_acc)
    ties = [e for e in range(n) if val_acc[e] == max(val_acc)]
    assert best_epoch - 1 == min(ties, key=lambda e: (val_loss[e], e))
    assert 1 < best_epoch < n  # so the returned params are not simply the first or last
    # the returned params are that epoch's
    loss, acc = utils.evaluate(params, X_val, y_val)
    assert acc == val_acc[best_epoch - 1]
    assert loss == pytest.approx(val_loss[best_epoch - 1], rel=1e-6)
    assert acc > val_acc[-1]


# ----------------------------------------------------------------------------
# augmentation


def test_random_shift_keeps_shape_and_dtype(mnist_small):
    """random_shift returns uint8 of the same shape; max_shift 0 returns the images unchanged."""
    X = mnist_small[0][:50]
    out = data.random_shift(X, 2, np.random.default_rng(0))
    assert out.shape == X.shape
    assert out.dtype == np.uint8
    assert not np.array_equal(out, X)  # something did move
    np.testing.assert_array_equal(data.random_shift(X, 0, np.random.default_rng(0)), X)


def test_random_shift_moves_a_single_pixel_by_at_most_max_shift():
    """A lone pixel moves by each of -k..k in both axes, never further, and keeps its value."""
    k, side, r, c = 2, 28, 14, 9
    X = np.zeros((400, side * side), dtype=np.uint8)
    X[:, r * side + c] = 173
    out = data.random_shift(X, k, np.random.default_rng(1))
    assert np.all(np.count_nonzero(out, axis=1) == 1)
    assert np.all(out.max(axis=1) == 173)
    rows, cols = np.divmod(out.argmax(axis=1), side)
    offsets = set(zip((rows - r).tolist(), (cols - c).tolist()))
    assert offsets == set(itertools.product(range(-k, k + 1), repeat=2))


def test_random_shift_preserves_the_ink_of_a_centred_digit(mnist_small):
    """Digits with a blank border at least max_shift wide keep every bit of their ink."""
    k, side = 3, 28
    images = mnist_small[0][:200].reshape(-1, side, side)
    inner = np.zeros((side, side), dtype=bool)
    inner[k:side - k, k:side - k] = True
    centred = images[~np.any(images[:, ~inner], axis=1)].reshape(-1, side * side)
    assert len(centred) >= 50
    out = data.random_shift(centred, k, np.random.default_rng(2))
    np.testing.assert_array_equal(out.sum(axis=1, dtype=np.int64),
                                  centred.sum(axis=1, dtype=np.int64))
    np.testing.assert_array_equal(np.sort(out, axis=1), np.sort(centred, axis=1))


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


def test_random_affine_with_no_distortion_is_the_identity(mnist_small):
    """All three limits at 0 give back the batch unchanged."""
    X = mnist_small[0][:16]
    assert np.array_equal(data.random_affine(X, 0, 0, 0, np.random.default_rng(0)), X)


def test_random_affine_keeps_shape_dtype_and_roughly_the_ink(mnist_small):
    """Small rotations, scalings and shifts keep shape, dtype and (about) the amount of ink."""
    X = mnist_small[0][:64]
    out = data.random_affine(X, 2, 10, 0.1, np.random.default_rng(1))
    assert out.shape == X.shape
    assert out.dtype == np.uint8
    assert not np.array_equal(out, X)
    ink_before = X.reshape(64, -1).sum(axis=1).astype(float)
    ink_after = out.reshape(64, -1).sum(axis=1).astype(float)
    ratio = ink_after / ink_before
    # scaling by s changes the area by s^2: at most 0.9^2..1.1^2, plus rounding
    assert ratio.min() > 0.75
    assert ratio.max() < 1.3


def test_random_affine_rotation_leaves_a_centred_disc_alone():
    """A disc centred in the image looks the same at any rotation (up to interpolation)."""
    side = 28
    yy, xx = np.mgrid[:side, :side] - (side - 1) / 2
    disc = ((yy ** 2 + xx ** 2) <= 8 ** 2).astype(np.uint8) * 255
    X = np.repeat(disc.reshape(1, -1), 8, axis=0)
    out = data.random_affine(X, 0, 45, 0, np.random.default_rng(2))
    radius = np.sqrt(yy ** 2 + xx ** 2).ravel()
    assert (out[:, radius < 7] == 255).all()  # the inside stays full
    assert (out[:, radius > 10] == 0).all()  # the outside stays empty
    assert out.sum(axis=1).min() > 0.95 * X.sum(axis=1).min()
