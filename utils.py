"""The network itself: a deep fully-connected classifier, as small functions.

Read top to bottom, this is one step of learning: normalise the inputs,
initialise the weights, the activations beside their derivatives, forward,
the softmax cross-entropy loss, backward, the optimiser's update and the
learning-rate schedule, the training step and epoch, then the metrics. It
imports NumPy only: reading files, pictures and settings live elsewhere
(see README, "How the code is laid out").

Conventions, the same in every function:
    X      -- a batch of inputs, one row per example, shape (n, n_in)
    y      -- integer class labels, shape (n,)
    params -- a list with one (W, b) pair per layer; W has shape (n_in, n_out)
              and b has shape (n_out,), so a layer computes Z = A_prev @ W + b.
              A hidden layer with batch normalisation is (W, gamma, beta)
              instead, gamma and beta of shape (n_out,), and has no b: the
              tuple's length says which layers are normalised
    grads  -- the same structure as params: a list of (dW, db), or
              (dW, dgamma, dbeta) for a normalised layer
    stats  -- the running statistics of batch normalisation, used in
              evaluation: one (running_mean, running_var) per normalised
              layer, None for the others (see init_stats); None as a whole
              for a network without batch normalisation
    Z, A   -- a layer's pre-activation and activation, shape (n, n_out)
    dZ, dA -- the gradients of the mean loss with respect to Z and A
    lr     -- the learning rate

Every function takes the dtype of the arrays it is given: training runs in
float32 (a step about 2x faster than in float64: benchmarks/parts.py), the gradient checks in
the tests run in float64. A function that overwrites one of its arguments,
for speed, says so in the first line of its docstring.
"""

import itertools
import math
from collections import namedtuple

import numpy as np

# ----------------------------------------------------------------------------
# inputs


def normalise(X, dtype=np.float32):
    """Scale uint8 pixels 0..255 to floats in [0, 1] of the given dtype.

    X -- uint8 of shape (n, n_pixels); returns a new array of that shape.
    """
    A = X.astype(dtype)
    A *= A.dtype.type(1 / 255)
    return A


def one_hot(y, n_classes, dtype=np.float64):
    """Encode labels as rows of a (n, n_classes) identity matrix.

    The width is fixed by n_classes, not by the labels seen, so a batch that
    lacks some classes still encodes to the full width.
    """
    Y = np.zeros((len(y), n_classes), dtype=dtype)
    Y[np.arange(len(y)), y] = 1
    return Y


# ----------------------------------------------------------------------------
# initialisation


def init_params(layers, rng, init="he", dtype=np.float32, batch_norm=False):
    """Draw the starting weights of a network with the given layer widths.

    He initialisation (He et al. 2015) draws W with variance 2 / n_in, which
    keeps the variance of ReLU activations steady from layer to layer; Glorot
    (Glorot and Bengio 2010) draws with variance 2 / (n_in + n_out), suited to
    tanh and sigmoid. Biases start at zero. Each activation names the one
    that suits it in ACTIVATIONS (see default_init). With batch_norm, every
    hidden layer gets gamma = 1 and beta = 0 instead of a bias, so it starts
    as the plain normalisation (Ioffe and Szegedy 2015); the W drawn are the
    same as without.

    layers -- widths from input to output, e.g. [784, 256, 10]
    rng    -- a np.random.Generator
    init   -- "he" or "glorot"
    Returns a list of (W, b), or (W, gamma, beta) for a normalised hidden
    layer; W of shape (n_in, n_out), the others (n_out,), all of the given dtype.
    """
    params = []
    for l, (n_in, n_out) in enumerate(itertools.pairwise(layers)):
        var = 2 / n_in if init == "he" else 2 / (n_in + n_out)
        W = (rng.standard_normal((n_in, n_out)) * math.sqrt(var)).astype(dtype)
        if batch_norm and l < len(layers) - 2:
            params.append((W, np.ones(n_out, dtype=dtype), np.zeros(n_out, dtype=dtype)))
        else:
            params.append((W, np.zeros(n_out, dtype=dtype)))
    return params


def init_stats(params):
    """The starting running statistics of batch normalisation: mean 0, variance 1.

    One (running_mean, running_var) pair per normalised layer, each of shape
    (n_out,) and the dtype of its layer, and None for every other layer; None
    as a whole when no layer is normalised. update_stats keeps them during
    training; forward uses them in evaluation.
    """
    if not any(len(layer) == 3 for layer in params):
        return None
    return [(np.zeros_like(layer[1]), np.ones_like(layer[1])) if len(layer) == 3 else None
            for layer in params]


# ----------------------------------------------------------------------------
# activations: each function beside its derivative. The derivatives are
# written in terms of the activation's output A, so backward needs only the
# activations in its cache, not the pre-activations too.


def relu(Z):
    """Overwrites Z: max(Z, 0), in place (forward owns Z, nobody else sees it)."""
    return np.maximum(Z, 0, out=Z)


def relu_grad(A):
    """dA/dZ of ReLU: 1 where the unit was active, else 0."""
    return A > 0


def leaky_relu(Z, slope=0.01):
    """Z where positive, slope * Z elsewhere, so dead units still get a gradient."""
    return np.where(Z > 0, Z, Z * Z.dtype.type(slope))


def leaky_relu_grad(A, slope=0.01):
    """dA/dZ of leaky ReLU: 1 where positive, slope elsewhere."""
    return np.where(A > 0, A.dtype.type(1), A.dtype.type(slope))


def tanh(Z):
    """Overwrites Z: tanh(Z), in place."""
    return np.tanh(Z, out=Z)


def tanh_grad(A):
    """dA/dZ of tanh: 1 - A^2."""
    return 1 - A * A


def sigmoid(Z):
    """1 / (1 + exp(-Z)), without overflow for large negative Z."""
    E = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1 / (1 + E), E / (1 + E))


def sigmoid_grad(A):
    """dA/dZ of the sigmoid: A (1 - A)."""
    return A * (1 - A)


Activation = namedtuple("Activation", "f grad init")

# An activation, its derivative, and the initialisation that suits it: He for
# the ReLUs, whose outputs are zero half the time; Glorot for the squashing
# ones. A new activation registered here is available as ACTIVATION = "name".
ACTIVATIONS = {
    "relu": Activation(relu, relu_grad, "he"),
    "leaky_relu": Activation(leaky_relu, leaky_relu_grad, "he"),
    "tanh": Activation(tanh, tanh_grad, "glorot"),
    "sigmoid": Activation(sigmoid, sigmoid_grad, "glorot"),
}


def default_init(activation):
    """The initialisation registered for an activation in ACTIVATIONS."""
    return ACTIVATIONS[activation].init


# ----------------------------------------------------------------------------
# batch normalisation (Ioffe and Szegedy 2015): the layer beside its
# derivative, then the running statistics that evaluation uses.

BN_EPS = 1e-5  # added to each variance before its square root, as in the paper and PyTorch
# The share of the old value kept when a running statistic takes in a batch's:
# 0.9, PyTorch's default (its momentum=0.1). The running averages then weigh
# the last ~10 batches (1 / (1 - 0.9)), about 1,300 rows at batch 128: enough
# rows for steady estimates, and recent enough to describe the weights at the
# end of the epoch, which are the ones kept and evaluated. Keras keeps 0.99
# (~100 batches); on the default network with BATCH_NORM = True the two gave
# the same best validation accuracy within 0.04 points (seeds 0 and 1), so
# the shorter memory, which lags less behind weights that still move, stays.
BN_MOMENTUM = 0.9


def batch_norm(Z, gamma, beta, running=None, eps=BN_EPS):
    """Overwrites Z: each unit's pre-activations normalised, then scaled by gamma, shifted by beta.

    Training (running None), over the n rows of the batch, per unit:
        mu = mean(Z), var = mean((Z - mu)^2)  (the biased variance)
        Zhat = (Z - mu) / sqrt(var + eps)     (mean 0, variance ~1)
        Y = gamma Zhat + beta
    Evaluation (running = (running_mean, running_var) from update_stats):
    the same with the running statistics in place of mu and var, so each
    row's Y depends on that row alone (Ioffe and Szegedy 2015, Algorithm 2).
    beta takes the place of the layer's bias, which the subtraction of mu
    would cancel anyway.

    Z -- A_prev @ W, (n, n_out), float; gamma, beta -- (n_out,)
    Returns (Y, norm): Y a new (n, n_out) array in training, Z's own memory
    in evaluation; norm = (Zhat, inv_std, mu, var) in training, Zhat being
    Z's memory and inv_std = 1 / sqrt(var + eps), for batch_norm_backward and
    update_stats; None in evaluation.
    """
    if running is not None:
        mean, var = running
        scale = gamma / np.sqrt(var + eps)
        Z *= scale
        Z += beta - mean * scale
        return Z, None
    n = len(Z)
    mu = Z.mean(axis=0)
    Z -= mu
    var = np.einsum("ij,ij->j", Z, Z) / Z.dtype.type(n)
    inv_std = 1 / np.sqrt(var + Z.dtype.type(eps))
    Z *= inv_std  # Z is Zhat from here on
    Y = Z * gamma
    Y += beta
    return Y, (Z, inv_std, mu, var)


def batch_norm_backward(dY, gamma, norm):
    """Overwrites dY with dZ: the gradients of batch_norm in training, (dZ, dgamma, dbeta).

    With Y = gamma Zhat + beta, over the batch's n rows and per unit:
        dbeta = sum(dY), dgamma = sum(dY Zhat), dZhat = dY gamma.
    Zhat_i = (Z_i - mu) s with s = (var + eps)^(-1/2), and every row's Z_j
    moves mu and var too, so dZ_j = sum_i dZhat_i dZhat_i/dZ_j, where
        dZhat_i/dZ_j = s (delta_ij - 1/n) + (Z_i - mu) ds/dZ_j,
        ds/dZ_j = -s^3 / 2 * dvar/dZ_j = -s^3 (Z_j - mu) / n = -s^2 Zhat_j / n
    (dvar/dZ_j = 2 (Z_j - mu) / n: the term through mu sums to zero).
    Summing over i, with means over the batch:
        dZ = s (dZhat - mean(dZhat) - Zhat mean(dZhat Zhat)),
    dZhat less its mean and less its projection on Zhat. As mean(dZhat) =
    gamma dbeta / n and mean(dZhat Zhat) = gamma dgamma / n, it is computed
    as dZ = gamma s (dY - dbeta / n - Zhat dgamma / n), reusing the sums
    that dgamma and dbeta need (the compact form; Ioffe and Szegedy 2015
    give the same gradient as a chain of six terms).

    dY -- the gradient of the loss at batch_norm's output, (n, n_out)
    norm -- what batch_norm returned in training: (Zhat, inv_std, mu, var)
    Returns (dZ, dgamma, dbeta): dZ is dY's memory, (n, n_out); the others (n_out,).
    """
    Zhat, inv_std = norm[0], norm[1]
    n = dY.dtype.type(len(dY))
    dbeta = dY.sum(axis=0)
    dgamma = np.einsum("ij,ij->j", dY, Zhat)
    dY -= dbeta / n
    dY -= Zhat * (dgamma / n)
    dY *= gamma * inv_std
    return dY, dgamma, dbeta


def update_stats(stats, cache, momentum=BN_MOMENTUM):
    """Overwrites stats: each running mean and variance moves toward the batch's.

        running_mean = momentum running_mean + (1 - momentum) mu
        running_var  = momentum running_var  + (1 - momentum) var n / (n - 1)
    The variance taken in is the batch's unbiased one, as in Ioffe and
    Szegedy 2015, Algorithm 2 (and PyTorch); the forward pass normalised with
    the biased one. See BN_MOMENTUM for the choice of momentum.

    stats -- from init_stats; cache -- from forward in training mode, on n >= 2 rows
    Raises ValueError for a batch of one row, whose variance is no estimate.
    """
    for running, norm in zip(stats, cache[3]):
        if running is None:
            continue
        mean, var = running
        _, _, mu, batch_var = norm
        n = len(norm[0])
        if n < 2:
            raise ValueError("batch normalisation needs at least 2 rows in a training batch")
        dt = mean.dtype.type
        mean *= dt(momentum)
        mean += dt(1 - momentum) * mu
        var *= dt(momentum)
        var += dt((1 - momentum) * n / (n - 1)) * batch_var


# ----------------------------------------------------------------------------
# forward


def dropout_masks(params, n, rates, rng, dtype=np.float32):
    """Draw one inverted-dropout mask per hidden layer for a batch of n rows.

    A unit is kept with probability 1 - p and, when kept, scaled by 1 / (1 - p),
    so the expected activation is unchanged and evaluation needs no rescaling
    (Srivastava et al. 2014). A rate of 0 gives None: that layer is untouched.

    rates -- one dropout rate per hidden layer (len(params) - 1 of them)
    Returns a list of (n, n_out) arrays of 0 and 1 / (1 - p), or None.
    """
    masks = []
    for layer, p in zip(params[:-1], rates):
        if p == 0:
            masks.append(None)
        else:
            keep = rng.random((n, layer[0].shape[1]), dtype=dtype) >= p
            masks.append(keep * dtype(1 / (1 - p)))
    return masks


def forward(params, X, activation="relu", masks=None, stats=None):
    """Run a batch through the network and return the output logits and a cache.

    The last layer is linear; its softmax is fused with the loss in
    softmax_cross_entropy. Hidden layers apply `activation`, then the dropout
    mask of that layer if masks are given (training only). A normalised
    layer (W, gamma, beta) passes A_prev @ W through batch_norm before its
    activation: with stats None (training) it normalises with the batch's own
    statistics; given stats (evaluation), with the running ones, so that each
    row's output does not depend on the other rows of its batch. forward
    changes nothing but its own arrays: the training step updates the
    running statistics from the cache (update_stats).

    X     -- inputs, shape (n, layers[0]); not changed
    masks -- None, or one mask (or None) per hidden layer from dropout_masks
    stats -- None (training), or the running statistics (see init_stats)
    Returns (Z, cache): Z the logits, shape (n, layers[-1]); cache holds, per
    layer, its input (X, then each hidden activation after dropout), each
    hidden activation before dropout (the same array when there is none),
    the masks, and per layer what batch_norm keeps for backward (None for a
    layer without batch normalisation, or in evaluation).
    """
    act = ACTIVATIONS[activation].f
    A = X
    inputs, acts, norms = [], [], []
    for l, layer in enumerate(params):
        inputs.append(A)
        Z = A @ layer[0]
        if len(layer) == 2:
            Z += layer[1]
            norms.append(None)
        else:
            Z, norm = batch_norm(Z, layer[1], layer[2], None if stats is None else stats[l])
            norms.append(norm)
        if l == len(params) - 1:
            break
        A = act(Z)
        acts.append(A)
        if masks is not None and masks[l] is not None:
            A = A * masks[l]
    return Z, (inputs, acts, masks, norms)


# ----------------------------------------------------------------------------
# loss: softmax and cross-entropy


def log_softmax(Z):
    """log(softmax(Z)) row by row, exact for logits of any size.

    Subtracting the row maximum before exp keeps every exponent <= 0, so
    nothing overflows, and the log is taken of a sum >= 1, so never of 0.
    """
    shifted = Z - Z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(Z):
    """The class probabilities of logits Z, row by row, without overflow."""
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def cross_entropy(Z, y):
    """The mean cross-entropy of logits Z against labels y, from log_softmax."""
    return float(-log_softmax(Z)[np.arange(len(y)), y].mean())


def softmax_cross_entropy(Z, y):
    """Overwrites Z with dZ: the mean cross-entropy loss and its gradient, fused.

    With P = softmax(Z), the gradient of the mean loss is (P - onehot(y)) / n:
    subtracting 1 at each row's true class avoids building the one-hot matrix.
    The gradient is built in Z's own memory, as the training step no longer
    needs the logits (measured in the README's performance section).

    Z -- logits, (n, k), float; y -- labels, (n,), int
    Returns (loss, dZ): loss a float, dZ the same array as Z.
    """
    n = len(y)
    rows = np.arange(n)
    Z -= Z.max(axis=1, keepdims=True)
    true = Z[rows, y]  # the true class's shifted logit, before exp overwrites it
    np.exp(Z, out=Z)
    total = Z.sum(axis=1)
    loss = float(np.mean(np.log(total) - true))  # -log_softmax at the label
    Z /= total[:, None]
    Z[rows, y] -= 1
    Z *= Z.dtype.type(1 / n)
    return loss, Z


def l2_penalty(params, weight_decay):
    """(weight_decay / 2) * the sum of all squared weights (biases, gamma, beta excluded)."""
    return 0.5 * weight_decay * sum(float(np.sum(layer[0] * layer[0])) for layer in params)


# ----------------------------------------------------------------------------
# backward


def backward(params, cache, dZ, activation="relu", weight_decay=0.0):
    """Backpropagate dZ, the gradient at the logits, through every layer.

    For each layer, from the last: dW = A_prev^T dZ, db = sum of dZ over the
    batch, and, except at the input layer (whose gradient nobody needs),
    dA_prev = dZ W^T, then through the dropout mask and the activation's
    derivative to the previous layer's dZ (the chain rule; Nielsen, *Neural
    Networks and Deep Learning*, chapter 2). At a normalised layer the
    gradient arriving from above is that of batch_norm's output;
    batch_norm_backward turns it into dgamma, dbeta and dZ. With
    weight_decay > 0 the gradient of the L2 penalty (weight_decay / 2) *
    sum(W^2) is added to each dW (never to db, dgamma or dbeta).

    cache -- from forward in training mode (stats None); dZ -- from
    softmax_cross_entropy, shape (n, layers[-1])
    Returns grads, a list of (dW, db) or (dW, dgamma, dbeta), in the shape
    and dtype of params.
    """
    grad = ACTIVATIONS[activation].grad
    inputs, acts, masks, norms = cache
    grads = [None] * len(params)
    for l in range(len(params) - 1, -1, -1):
        layer = params[l]
        W = layer[0]
        if len(layer) == 2:
            rest = (dZ.sum(axis=0),)
        else:  # dZ holds the gradient of batch_norm's output until here
            dZ, dgamma, dbeta = batch_norm_backward(dZ, layer[1], norms[l])
            rest = (dgamma, dbeta)
        A_prev = inputs[l]
        dW = A_prev.T @ dZ
        if weight_decay:
            dW += W.dtype.type(weight_decay) * W
        grads[l] = (dW, *rest)
        if l == 0:
            break
        dA = dZ @ W.T
        if masks is not None and masks[l - 1] is not None:
            dA *= masks[l - 1]
        dA *= grad(acts[l - 1])
        dZ = dA
    return grads


# ----------------------------------------------------------------------------
# update: each optimiser keeps its state per layer and per parameter, in the
# structure of params.


def init_state(params, optimiser="momentum"):
    """The optimiser's starting state: zero velocities or moments, step 0.

    SGD keeps nothing; momentum keeps one velocity per parameter; Adam and
    AdamW keep a first and a second moment per parameter.
    """
    def zeros():
        return [tuple(np.zeros_like(p) for p in layer) for layer in params]

    if optimiser in ("adam", "adamw"):
        return {"step": 0, "m": zeros(), "v": zeros()}
    if optimiser in ("momentum", "nesterov"):
        return {"step": 0, "velocity": zeros()}
    return {"step": 0}


def update(params, grads, state, lr, optimiser="momentum", momentum=0.9,
           betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """Overwrites params, state and grads: one optimisation step, in place.

    sgd      -- p -= lr g
    momentum -- v = mu v - lr g; p += v (the classic form, Sutskever et al.
                2013; for a constant lr it moves p exactly as PyTorch's SGD)
    nesterov -- v = mu v - lr g; p += mu v - lr g (the same paper's Nesterov
                form, which looks ahead along the new velocity)
    adam     -- m, v the running means of g and g^2, bias-corrected by
                1 - beta^t; p -= lr m_hat / (sqrt(v_hat) + eps) (Kingma and Ba 2015)
    adamw    -- adam, plus the decoupled decay p -= lr weight_decay p on the
                weights, not the biases, gammas or betas (Loshchilov and Hutter 2019)
    Every layer's tuple is walked alike, (W, b) or (W, gamma, beta): gamma
    and beta are learned like biases, with their own velocities or moments.
    For sgd, momentum and nesterov, L2 weight decay is in the gradient
    (backward's weight_decay), so the weight_decay here is used by adamw only.
    The momentum step is written as four in-place passes with no temporary
    arrays, scaling each g by lr in its own memory: the update alone 1.3x
    faster than v = mu v + g; p -= lr v, a whole step within noise of it
    (benchmarks/parts.py).
    """
    state["step"] += 1
    t = state["step"]
    for l, (layer, layer_grads) in enumerate(zip(params, grads)):
        for i, (p, g) in enumerate(zip(layer, layer_grads)):
            dt = p.dtype.type
            if optimiser in ("sgd", "momentum", "nesterov"):
                g *= dt(lr)  # g is now the plain gradient step lr g
                if optimiser == "sgd":
                    p -= g
                    continue
                v = state["velocity"][l][i]
                v *= dt(momentum)
                v -= g
                if optimiser == "nesterov":
                    p += dt(momentum) * v
                    p -= g
                else:
                    p += v
            elif optimiser in ("adam", "adamw"):
                m, v = state["m"][l][i], state["v"][l][i]
                b1, b2 = betas
                m *= dt(b1)
                m += dt(1 - b1) * g
                v *= dt(b2)
                v += dt(1 - b2) * g * g
                if optimiser == "adamw" and weight_decay and i == 0:
                    p -= dt(lr * weight_decay) * p
                m_hat = m / dt(1 - b1 ** t)
                v_hat = v / dt(1 - b2 ** t)
                p -= dt(lr) * m_hat / (np.sqrt(v_hat) + dt(eps))
            else:
                raise ValueError(f"unknown optimiser {optimiser!r}")


def max_norm(params, c):
    """Overwrites params' W: caps each unit's incoming weights at an L2 norm of c.

    A unit's incoming weights are a column of W. Capping their norm lets a
    network train with large learning rates and dropout without its weights
    growing without bound (Srivastava et al. 2014, section 5.1). Biases,
    gammas and betas are left alone.
    """
    for layer in params:
        W = layer[0]
        norms = np.sqrt((W * W).sum(axis=0))
        W *= np.minimum(1, c / np.maximum(norms, 1e-12)).astype(W.dtype)


def learning_rate(step, total_steps, lr, schedule="cosine", warmup_steps=0,
                  step_every=1, gamma=0.1):
    """The learning rate at a step (counted from 0) of a run of total_steps.

    constant -- lr throughout
    step     -- lr * gamma ** (step // step_every): drops by gamma every step_every steps
    cosine   -- lr * (1 + cos(pi * progress)) / 2, from lr down to 0 at the end
                (Loshchilov and Hutter 2017, without restarts)
    A linear warm-up over the first warmup_steps ramps from lr / warmup_steps to
    the schedule's value; progress of the cosine counts from the warm-up's end.
    Raises ValueError for an unknown schedule.
    """
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    if schedule == "constant":
        return lr
    if schedule == "step":
        return lr * gamma ** (step // step_every)
    if schedule == "cosine":
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return lr * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    raise ValueError(f"unknown schedule {schedule!r}")


# ----------------------------------------------------------------------------
# training: the step (forward, loss, backward, update) and the epoch


def train_step(params, state, X, y, lr, rng, activation="relu", dropout=None,
               weight_decay=0.0, optimiser="momentum", momentum=0.9, max_norm_c=0.0,
               stats=None):
    """Overwrites params and state (and stats): one step of mini-batch gradient descent.

    forward, softmax_cross_entropy, backward, update: the four calls below
    are all of learning. With batch normalisation, forward normalises with
    this batch's statistics, and the running statistics take them in after
    the step (update_stats).
    X -- the batch as floats, (n, layers[0]); y -- its labels, (n,)
    dropout -- None, or one rate per hidden layer
    stats -- None, or the running statistics to update (see init_stats);
    then n must be at least 2 (update_stats raises ValueError otherwise)
    Returns (loss, correct): the batch's mean loss before the step, and how
    many of its rows the network got right before the step.
    """
    masks = dropout_masks(params, len(X), dropout, rng, X.dtype.type) if dropout else None
    Z, cache = forward(params, X, activation, masks)
    correct = int(np.count_nonzero(Z.argmax(axis=1) == y))
    loss, dZ = softmax_cross_entropy(Z, y)
    coupled_decay = 0.0 if optimiser == "adamw" else weight_decay
    grads = backward(params, cache, dZ, activation, coupled_decay)
    update(params, grads, state, lr, optimiser, momentum, weight_decay=weight_decay)
    if max_norm_c:
        max_norm(params, max_norm_c)
    if stats is not None:
        update_stats(stats, cache)
    return loss, correct


def batches(n, batch_size, rng=None):
    """Yield index arrays that cover range(n) in batches, shuffled when rng is given.

    Training passes its rng so the rows come in a new order every epoch;
    evaluation passes none and walks the rows in order.
    """
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def train_epoch(params, state, X, y, batch_size, rng, lr_at, augment=None,
                should_stop=lambda: False, **step_options):
    """Overwrites params and state (and stats): one pass over the training rows, in mini-batches.

    The rows come in a new random order; each batch is augmented (if
    augment) and scaled to float32 only when its turn comes, so the data set
    stays compact and is never copied whole. Then train_step learns from it.
    With batch normalisation, a batch of one row (the last one, when the
    batch size leaves a single row over) is skipped: its variance is 0, so
    it would normalise every unit to beta alone and teach W nothing, and it
    gives no variance to the running statistics. The order changes each
    epoch, so it is not the same row that waits each time.
    X -- uint8 pixels, (n, layers[0]); y -- int labels, (n,)
    augment -- None, or a function (X_batch, rng) -> X_batch
    lr_at -- a function giving the learning rate of the step about to be
    taken, counting steps from the start of the run (state["step"])
    should_stop -- checked after every batch (Ctrl-C sets it)
    step_options -- passed to train_step (activation, dropout, ...)
    Returns a dict: loss and acc, the running means over the batches seen;
    status: "ok", "stopped" (should_stop said so) or "diverged" (the loss
    was not finite; params then hold that step's update and must be discarded).
    """
    total_loss, correct, seen = 0.0, 0, 0
    status = "ok"
    smallest = 2 if any(len(layer) == 3 for layer in params) else 1
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported instead
        for idx in batches(len(X), batch_size, rng):
            if len(idx) < smallest:
                continue
            X_batch = X[idx]
            if augment:
                X_batch = augment(X_batch, rng)
            loss, right = train_step(params, state, normalise(X_batch), y[idx],
                                     lr_at(state["step"]), rng, **step_options)
            total_loss += loss * len(idx)
            correct += right
            seen += len(idx)
            if not math.isfinite(loss):
                status = "diverged"
                break
            if should_stop():
                status = "stopped"
                break
    return {"loss": total_loss / max(seen, 1), "acc": correct / max(seen, 1),
            "status": status}


# ----------------------------------------------------------------------------
# metrics


def accuracy(Z, y):
    """The fraction of rows whose largest logit (or probability) is the label."""
    return float(np.mean(Z.argmax(axis=1) == y))


def predict_logits(params, X, activation="relu", batch_size=8192, dtype=np.float32,
                   stats=None):
    """The logits of every row of uint8 X, computed in batches to bound memory.

    A network with batch normalisation is evaluated with its running
    statistics, so every row gets the same logits alone as in any batch.
    X -- uint8, (n, layers[0]); stats -- the running statistics (see
    init_stats), needed when a layer is normalised
    Returns (n, layers[-1]) of the given dtype. Raises ValueError for
    normalised layers without stats.
    """
    if stats is None and any(len(layer) == 3 for layer in params):
        raise ValueError("a network with batch normalisation needs its running statistics")
    out = np.empty((len(X), params[-1][0].shape[1]), dtype=dtype)
    for idx in batches(len(X), batch_size):
        out[idx] = forward(params, normalise(X[idx], dtype), activation, stats=stats)[0]
    return out


def evaluate(params, X, y, activation="relu", batch_size=8192, stats=None):
    """The mean cross-entropy and accuracy of the network on (X, y), without dropout.

    stats -- the running statistics, for a network with batch normalisation
    """
    Z = predict_logits(params, X, activation, batch_size, params[0][0].dtype.type, stats)
    return cross_entropy(Z, y), accuracy(Z, y)


def confusion_matrix(y, pred, n_classes):
    """Counts C[i, j] of rows with true label i predicted as j, int64 (k, k)."""
    return (one_hot(y, n_classes, np.int64).T @ one_hot(pred, n_classes, np.int64))


def count_params(layers, batch_norm=False):
    """The number of weights and biases (or gammas and betas) of a network with these widths.

    With batch_norm, each hidden unit has a gamma and a beta in place of its
    bias: one parameter more. The running statistics are not counted (they
    are not learned by gradient descent).
    """
    pairs = list(itertools.pairwise(layers))
    return (sum(n_in * n_out + n_out for n_in, n_out in pairs)
            + (sum(n_out for _, n_out in pairs[:-1]) if batch_norm else 0))


def copy_params(params):
    """A copy of params (or of stats) that later training steps will not change.

    Each layer's tuple is copied array by array; None (a layer without
    running statistics, or stats of a network without any) stays None.
    """
    if params is None:
        return None
    return [None if layer is None else tuple(a.copy() for a in layer) for layer in params]
