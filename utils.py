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
              and b has shape (n_out,), so a layer computes Z = A_prev @ W + b
    grads  -- the same structure as params: a list of (dW, db)
    Z, A   -- a layer's pre-activation and activation, shape (n, n_out)
    dZ, dA -- the gradients of the mean loss with respect to Z and A
    lr     -- the learning rate

Every function takes the dtype of the arrays it is given: training runs in
float32 (measured 1.8x faster per step than float64), the gradient checks in
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


def init_params(layers, rng, init="he", dtype=np.float32):
    """Draw the starting weights of a network with the given layer widths.

    He initialisation (He et al. 2015) draws W with variance 2 / n_in, which
    keeps the variance of ReLU activations steady from layer to layer; Glorot
    (Glorot and Bengio 2010) draws with variance 2 / (n_in + n_out), suited to
    tanh and sigmoid. Biases start at zero. Each activation names the one
    that suits it in ACTIVATIONS (see default_init).

    layers -- widths from input to output, e.g. [784, 256, 10]
    rng    -- a np.random.Generator
    init   -- "he" or "glorot"
    Returns a list of (W, b), W of shape (n_in, n_out), b of shape (n_out,),
    both of the given dtype.
    """
    params = []
    for n_in, n_out in itertools.pairwise(layers):
        var = 2 / n_in if init == "he" else 2 / (n_in + n_out)
        W = (rng.standard_normal((n_in, n_out)) * math.sqrt(var)).astype(dtype)
        params.append((W, np.zeros(n_out, dtype=dtype)))
    return params


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
    for (W, _), p in zip(params[:-1], rates):
        if p == 0:
            masks.append(None)
        else:
            keep = rng.random((n, W.shape[1]), dtype=dtype) >= p
            masks.append(keep * dtype(1 / (1 - p)))
    return masks


def forward(params, X, activation="relu", masks=None):
    """Run a batch through the network and return the output logits and a cache.

    The last layer is linear; its softmax is fused with the loss in
    softmax_cross_entropy. Hidden layers apply `activation`, then the dropout
    mask of that layer if masks are given (training only).

    X     -- inputs, shape (n, layers[0]); not changed
    masks -- None, or one mask (or None) per hidden layer from dropout_masks
    Returns (Z, cache): Z the logits, shape (n, layers[-1]); cache holds, per
    layer, its input (X, then each hidden activation after dropout), each
    hidden activation before dropout (the same array when there is none),
    and the masks.
    """
    act = ACTIVATIONS[activation].f
    A = X
    inputs, acts = [], []
    for l, (W, b) in enumerate(params):
        inputs.append(A)
        Z = A @ W
        Z += b
        if l == len(params) - 1:
            break
        A = act(Z)
        acts.append(A)
        if masks is not None and masks[l] is not None:
            A = A * masks[l]
    return Z, (inputs, acts, masks)


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
    """(weight_decay / 2) * the sum of all squared weights (biases excluded)."""
    return 0.5 * weight_decay * sum(float(np.sum(W * W)) for W, _ in params)


# ----------------------------------------------------------------------------
# backward


def backward(params, cache, dZ, activation="relu", weight_decay=0.0):
    """Backpropagate dZ, the gradient at the logits, through every layer.

    For each layer, from the last: dW = A_prev^T dZ, db = sum of dZ over the
    batch, and, except at the input layer (whose gradient nobody needs),
    dA_prev = dZ W^T, then through the dropout mask and the activation's
    derivative to the previous layer's dZ (the chain rule; Nielsen, *Neural
    Networks and Deep Learning*, chapter 2). With weight_decay > 0 the
    gradient of the L2 penalty (weight_decay / 2) * sum(W^2) is added to each dW.

    cache -- from forward; dZ -- from softmax_cross_entropy, shape (n, layers[-1])
    Returns grads, a list of (dW, db) in the shape and dtype of params.
    """
    grad = ACTIVATIONS[activation].grad
    inputs, acts, masks = cache
    grads = [None] * len(params)
    for l in range(len(params) - 1, -1, -1):
        W, _ = params[l]
        A_prev = inputs[l]
        dW = A_prev.T @ dZ
        if weight_decay:
            dW += W.dtype.type(weight_decay) * W
        grads[l] = (dW, dZ.sum(axis=0))
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
                weights, not the biases (Loshchilov and Hutter 2019)
    For sgd, momentum and nesterov, L2 weight decay is in the gradient
    (backward's weight_decay), so the weight_decay here is used by adamw only.
    The momentum step is written as four in-place passes with no temporary
    arrays, scaling each g by lr in its own memory: measured 4-8% faster per
    training step than v = mu v + g; p -= lr v.
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
    growing without bound (Srivastava et al. 2014, section 5.1).
    """
    for W, _ in params:
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
               weight_decay=0.0, optimiser="momentum", momentum=0.9, max_norm_c=0.0):
    """Overwrites params and state: one step of mini-batch gradient descent.

    forward, softmax_cross_entropy, backward, update: the four calls below
    are all of learning.
    X -- the batch as floats, (n, layers[0]); y -- its labels, (n,)
    dropout -- None, or one rate per hidden layer
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
    """Overwrites params and state: one pass over the training rows, in mini-batches.

    The rows come in a new random order; each batch is augmented (if
    augment) and scaled to float32 only when its turn comes, so the data set
    stays compact and is never copied whole. Then train_step learns from it.
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
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported instead
        for idx in batches(len(X), batch_size, rng):
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


def diverged(result, params, history, n_classes):
    """Why training has diverged, or "" if it has not.

    result -- a dict with "loss" (the epoch's mean loss) and "status";
    history -- a dict whose "train_loss" lists the earlier epochs' losses.
    An untrained network scores a loss of about ln(n_classes) (2.30 for ten
    classes); a loss ten times that, or a hundred times the best so far, or
    a non-finite loss or weight, means the steps are throwing the weights
    away, whether or not the numbers have overflowed yet.
    """
    loss, untrained = result["loss"], math.log(n_classes)
    if result["status"] == "diverged" or not math.isfinite(loss):
        return f"the loss became {loss}"
    if not all(np.isfinite(p).all() for layer in params for p in layer):
        return "the weights became non-finite"
    if loss > 10 * untrained:
        return f"the loss {loss:.3g} is far above an untrained network's {untrained:.2f}"
    if history.get("train_loss") and loss > 100 * min(history["train_loss"]) > 0:
        return f"the loss grew from {min(history['train_loss']):.3g} to {loss:.3g}"
    return ""


# ----------------------------------------------------------------------------
# metrics


def accuracy(Z, y):
    """The fraction of rows whose largest logit (or probability) is the label."""
    return float(np.mean(Z.argmax(axis=1) == y))


def predict_logits(params, X, activation="relu", batch_size=8192, dtype=np.float32):
    """The logits of every row of uint8 X, computed in batches to bound memory.

    X -- uint8, (n, layers[0]); returns (n, layers[-1]) of the given dtype.
    """
    out = np.empty((len(X), params[-1][0].shape[1]), dtype=dtype)
    for idx in batches(len(X), batch_size):
        out[idx] = forward(params, normalise(X[idx], dtype), activation)[0]
    return out


def evaluate(params, X, y, activation="relu", batch_size=8192):
    """The mean cross-entropy and accuracy of the network on (X, y), without dropout."""
    Z = predict_logits(params, X, activation, batch_size, params[0][0].dtype.type)
    return cross_entropy(Z, y), accuracy(Z, y)


def confusion_matrix(y, pred, n_classes):
    """Counts C[i, j] of rows with true label i predicted as j, int64 (k, k)."""
    return (one_hot(y, n_classes, np.int64).T @ one_hot(pred, n_classes, np.int64))


def count_params(layers):
    """The number of weights and biases of a network with these widths."""
    return sum(n_in * n_out + n_out for n_in, n_out in itertools.pairwise(layers))


def model_summary(layers, activation, init):
    """A table of the network, layer by layer, as Keras' model.summary() prints one.

    Per layer: the shape of W, its number of parameters (weights and
    biases), its activation and initialisation; then the total. Returns text.
    """
    rows = [f"  {'layer':<7}{'W shape':<14}{'parameters':>12}  {'activation':<12}init"]
    for l, (n_in, n_out) in enumerate(itertools.pairwise(layers), start=1):
        last = l == len(layers) - 1
        rows.append(f"  {l:<7}{f'{n_in} x {n_out}':<14}{n_in * n_out + n_out:>12,}  "
                    f"{'softmax' if last else activation:<12}{init}")
    rows.append(f"  {'total':<21}{count_params(layers):>12,}")
    return "\n".join(rows)


def copy_params(params):
    """A copy of params that later training steps will not change."""
    return [(W.copy(), b.copy()) for W, b in params]
