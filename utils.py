"""The network itself: a deep fully-connected classifier, as small functions.

Read it top to bottom as one step of learning:

    1. inputs          normalise the pixels, one-hot labels
    2. initialisation  the starting weights (He or Glorot)
    3. activations     each function beside its derivative
    4. one layer       Z = A_prev W + b, and its three gradients
    5. forward         the layers in turn, input to logits
    6. the loss        softmax and cross-entropy, and its gradient (P - Y) / n
    7. backward        the chain rule, layer by layer, logits to input
    8. update          SGD, momentum, Nesterov, Adam, AdamW; the learning-rate schedule
    9. training        train_step = forward, loss, backward, update; train_epoch
   10. additions       dropout, batch normalisation, max-norm: each its own
                       functions, called by forward and backward for the layers
                       that have them
   11. metrics         accuracy, evaluation, the confusion matrix

It imports NumPy only: files, pictures and settings live in other modules
(docs/code.md maps them), and docs/article.ipynb walks one real batch
through these functions with every gradient checked numerically.

Conventions, the same in every function:
    X      -- a batch of inputs, one row per example, shape (n, n_in)
    y      -- integer class labels, shape (n,)
    params -- a list with one dict per layer. A plain layer is
              {"W": W, "b": b}, W of shape (n_in, n_out) and b of shape
              (n_out,), and computes Z = A_prev @ W + b. A hidden layer with
              batch normalisation is {"W": W, "gamma": gamma, "beta": beta}:
              it has no b (see batch_norm); is_normalised(layer) says which.
    grads  -- the same structure: grads[l]["W"] is dW, grads[l]["b"] is db
    stats  -- batch normalisation's running statistics, used in evaluation:
              one {"mean": ..., "var": ...} per normalised layer and None for
              the others; None as a whole for a network without any
    Z, A   -- a layer's pre-activation and activation, shape (n, n_out)
    dZ, dA -- the gradients of the mean loss with respect to Z and A
    lr     -- the learning rate

Every function takes the dtype of the arrays it is given: training runs in
float32 (a step about 2x faster than in float64: benchmarks/parts.py), the
gradient checks run in float64. A function that overwrites one of its
arguments, for speed, says so in the first line of its docstring; none
overwrites an array its caller reads again.
"""

import itertools
import math
from collections import namedtuple

import numpy as np

# ----------------------------------------------------------------------------
# 1. inputs


def normalise(X, dtype=np.float32):
    """Scale uint8 pixels 0..255 to floats in [0, 1] of the given dtype.

    X -- uint8 of shape (n, n_pixels); returns a new array of that shape.
    """
    A = X.astype(dtype)
    A *= A.dtype.type(1 / 255)
    return A


def one_hot(y, n_classes, dtype=np.float64):
    """Encode labels as rows of a (n, n_classes) identity matrix, Y.

    The width is fixed by n_classes, not by the labels seen, so a batch that
    lacks some classes still encodes to the full width.
    """
    Y = np.zeros((len(y), n_classes), dtype=dtype)
    Y[np.arange(len(y)), y] = 1
    return Y


# ----------------------------------------------------------------------------
# 2. initialisation


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
    Returns params: a list of {"W", "b"}, or {"W", "gamma", "beta"} for a
    normalised hidden layer; W of shape (n_in, n_out), the others (n_out,),
    all of the given dtype.
    """
    params = []
    for l, (n_in, n_out) in enumerate(itertools.pairwise(layers)):
        var = 2 / n_in if init == "he" else 2 / (n_in + n_out)
        W = (rng.standard_normal((n_in, n_out)) * math.sqrt(var)).astype(dtype)
        if batch_norm and l < len(layers) - 2:
            params.append({"W": W, "gamma": np.ones(n_out, dtype=dtype),
                           "beta": np.zeros(n_out, dtype=dtype)})
        else:
            params.append({"W": W, "b": np.zeros(n_out, dtype=dtype)})
    return params


def is_normalised(layer):
    """Whether a layer of params (or of grads) has batch normalisation: gamma and beta, no b."""
    return "gamma" in layer


# ----------------------------------------------------------------------------
# 3. activations: each function beside its derivative. The derivatives are
# written in terms of the activation's output A, so backward needs only the
# activations in its cache, not the pre-activations too.


def relu(Z):
    """Overwrites Z: max(Z, 0), in place (forward owns Z, nobody else sees it)."""
    return np.maximum(Z, 0, out=Z)


def relu_grad(A):
    """dA/dZ of ReLU: 1 where the unit was active, else 0."""
    return A > 0


def leaky_relu(Z, slope=0.01):
    """Z where positive, slope * Z elsewhere, so a unit that is never active still learns."""
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
    """The initialisation registered for an activation in ACTIVATIONS: "he" or "glorot"."""
    return ACTIVATIONS[activation].init


# ----------------------------------------------------------------------------
# 4. one layer: forward, and backward as the equations say


def linear(A_prev, W, b=None):
    """A layer's pre-activation: Z = A_prev W + b.

    Row i of Z is the layer's response to example i: Z_ij = sum_k A_prev_ik
    W_kj + b_j, unit j's weighted sum of the previous layer's outputs plus its
    bias. A normalised layer passes b=None: batch_norm adds beta instead.

    A_prev -- (n, n_in); W -- (n_in, n_out); b -- (n_out,) or None
    Returns Z, a new (n, n_out) array of their dtype.
    """
    Z = A_prev @ W
    if b is not None:
        Z += b
    return Z


def linear_backward(dZ, A_prev, W, need_dA_prev=True, need_db=True):
    """The gradients of a layer Z = A_prev W + b, given dZ: (dW, db, dA_prev).

    Z_ij = sum_k A_prev_ik W_kj + b_j, so by the chain rule, summing over
    every entry of Z that a parameter moves:
        dL/dW_kj      = sum_i dZ_ij A_prev_ik    dW = A_prev^T dZ
        dL/db_j       = sum_i dZ_ij              db = the column sums of dZ
        dL/dA_prev_ik = sum_j dZ_ij W_kj         dA_prev = dZ W^T
    The sums over i add up the batch's examples: as dZ is the gradient of
    the batch's mean loss (it carries the 1 / n), dW is the mean of the
    examples' gradients. Each gradient has the shape of what it is the
    gradient of, which is a check on the transposes.

    dZ -- (n, n_out); A_prev -- (n, n_in); W -- (n_in, n_out)
    need_dA_prev -- False at the first layer, whose input needs no gradient
    need_db -- False for a normalised layer, which has beta in place of b
    Returns dW (n_in, n_out), db (n_out,) or None, dA_prev (n, n_in) or None; new arrays.
    """
    dW = A_prev.T @ dZ
    db = dZ.sum(axis=0) if need_db else None
    dA_prev = dZ @ W.T if need_dA_prev else None
    return dW, db, dA_prev


# ----------------------------------------------------------------------------
# 5. forward


def forward(params, X, activation="relu", masks=None, stats=None):
    """Run a batch through the network and return the output logits and a cache.

    For each layer: Z = linear(A_prev, W, b), then, for a hidden layer,
    A = f(Z) with f the activation. The last layer is linear: its softmax is
    fused with the loss in softmax_cross_entropy. Two additions act where a
    layer has them: a normalised layer passes A_prev W through batch_norm in
    place of adding b (with stats None, training, it normalises with the
    batch's own statistics; given stats, evaluation, with the running ones,
    so each row's output does not depend on the others); and, given masks
    (training), dropout multiplies a hidden layer's A by its mask. forward
    changes nothing but its own arrays: the training step updates the
    running statistics from the cache (update_stats).

    X     -- inputs, shape (n, layers[0]); not changed
    masks -- None, or one mask (or None) per hidden layer from dropout_masks
    stats -- None (training), or the running statistics (see init_stats)
    Returns (Z, cache): Z the logits, shape (n, layers[-1]); cache a list
    with one dict per layer, what backward needs: "A_prev", the layer's input
    (X, or the previous layer's A after dropout); "A", its activation before
    dropout (None at the output layer); "mask", its dropout mask or None;
    "norm", what batch_norm keeps for its backward, or None.
    """
    f = ACTIVATIONS[activation].f
    A, cache = X, []
    for l, layer in enumerate(params):
        step = {"A_prev": A, "A": None, "mask": None, "norm": None}
        cache.append(step)
        if is_normalised(layer):
            Z, step["norm"] = batch_norm(linear(A, layer["W"]), layer["gamma"], layer["beta"],
                                         None if stats is None else stats[l])
        else:
            Z = linear(A, layer["W"], layer["b"])
        if l == len(params) - 1:
            return Z, cache
        A = step["A"] = f(Z)
        if masks is not None and masks[l] is not None:
            step["mask"] = masks[l]
            A = dropout(A, masks[l])


# ----------------------------------------------------------------------------
# 6. the loss: softmax and cross-entropy


def log_softmax(Z):
    """log(softmax(Z)) row by row, exact for logits of any size.

    Subtracting the row maximum before exp keeps every exponent <= 0, so
    nothing overflows, and the log is taken of a sum >= 1, so never of 0.
    """
    shifted = Z - Z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(Z):
    """The class probabilities of logits Z, row by row, without overflow.

    P_ij = exp(Z_ij) / sum_k exp(Z_ik); each row of P is positive and sums to 1.
    """
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def cross_entropy(Z, y):
    """The mean cross-entropy of logits Z against labels y: -mean_i log P_i,y_i."""
    return float(-log_softmax(Z)[np.arange(len(y)), y].mean())


def softmax_cross_entropy(Z, y):
    """Overwrites Z with dZ: the mean cross-entropy loss and its gradient, fused.

    The loss of the batch is L = -(1/n) sum_i log P_i,y_i, with P = softmax(Z).
    As log P_i,y = Z_i,y - log sum_k exp(Z_ik), its derivative is
        dL/dZ_ij = -(1/n) (Y_ij - P_ij) = (P_ij - Y_ij) / n,
    Y the one-hot labels: the predicted probabilities less the truth. So
    dZ = (P - Y) / n, built here by subtracting 1 at each row's true class
    (no one-hot matrix is made) in Z's own memory, which the training step
    no longer needs (docs/performance.md measures why).

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
    """(weight_decay / 2) * the sum of all squared weights W (biases, gamma, beta excluded)."""
    return 0.5 * weight_decay * sum(float(np.sum(layer["W"] * layer["W"])) for layer in params)


# ----------------------------------------------------------------------------
# 7. backward


def backward(params, cache, dZ, activation="relu", weight_decay=0.0):
    """Backpropagate dZ, the gradient at the logits, through every layer.

    The network computes, for l = 1 .. L (A_0 = X, the output layer linear):
        Z_l = A_l-1 W_l + b_l,    A_l = f(Z_l),    L = loss(Z_L)
    and the loss depends on W_l only through Z_l, on A_l-1 only through Z_l,
    on Z_l only through A_l. The chain rule then gives, from the last layer
    back to the first, with dZ_L = (P - Y) / n from softmax_cross_entropy:
        dW_l = A_l-1^T dZ_l          (linear_backward: Z is linear in W)
        db_l = sum over rows of dZ_l
        dA_l-1 = dZ_l W_l^T          (each A_l-1 entry feeds every unit of l)
        dZ_l-1 = dA_l-1 * f'(Z_l-1)  (elementwise: A = f(Z) unit by unit)
    so one backward pass costs about as much as one forward pass: two matrix
    products per layer, the same shapes transposed (Rumelhart, Hinton and
    Williams 1986; Nielsen, *Neural Networks and Deep Learning*, chapter 2,
    whose BP1-BP4 are these four lines). f'(Z) is written in terms of A (see
    the activations), which the cache holds.
    Where a layer has them, the additions' own backwards slot in: dropout's
    mask multiplies dA_l-1 (A_l-1 was multiplied by it), and a normalised
    layer's batch_norm_backward turns the gradient at its output into dZ,
    dgamma and dbeta before dW is taken. With weight_decay > 0 the gradient
    of the L2 penalty (weight_decay / 2) sum(W^2), weight_decay W, is added
    to each dW (never to db, dgamma or dbeta).

    cache -- from forward in training mode (stats None); not changed
    dZ -- from softmax_cross_entropy, shape (n, layers[-1]); backward may
    overwrite it (the training step does not read it again)
    Returns grads, a list of {"W": dW, "b": db} or {"W": dW, "gamma": dgamma,
    "beta": dbeta}, in the shapes and dtype of params.
    """
    grad = ACTIVATIONS[activation].grad
    grads = [None] * len(params)
    for l in range(len(params) - 1, -1, -1):
        layer, step = params[l], cache[l]
        if is_normalised(layer):  # dZ is the gradient at batch_norm's output until here
            dZ, dgamma, dbeta = batch_norm_backward(dZ, layer["gamma"], step["norm"])
        dW, db, dA_prev = linear_backward(dZ, step["A_prev"], layer["W"], need_dA_prev=l > 0,
                                          need_db=not is_normalised(layer))
        if weight_decay:
            dW += layer["W"].dtype.type(weight_decay) * layer["W"]
        grads[l] = ({"W": dW, "gamma": dgamma, "beta": dbeta} if is_normalised(layer)
                    else {"W": dW, "b": db})
        if l > 0:
            below = cache[l - 1]
            if below["mask"] is not None:
                dA_prev = dropout_backward(dA_prev, below["mask"])
            dA_prev *= grad(below["A"])
            dZ = dA_prev
    return grads


# ----------------------------------------------------------------------------
# 8. update: each optimiser keeps its state per layer and per parameter, in
# the structure of params; then the learning rate over the run.


def init_state(params, optimiser="momentum"):
    """The optimiser's starting state: zero velocities or moments, step 0.

    SGD keeps nothing; momentum and Nesterov keep one velocity per parameter;
    Adam and AdamW keep a first and a second moment per parameter, each in
    the structure of params (a list of dicts of arrays).
    """
    def zeros():
        return [{name: np.zeros_like(p) for name, p in layer.items()} for layer in params]

    if optimiser in ("adam", "adamw"):
        return {"step": 0, "m": zeros(), "v": zeros()}
    if optimiser in ("momentum", "nesterov"):
        return {"step": 0, "velocity": zeros()}
    return {"step": 0}


def update(params, grads, state, lr, optimiser="momentum", momentum=0.9,
           betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """Overwrites params and state: one optimisation step, in place; grads are left as they were.

    With g a parameter's gradient:
    sgd      -- p -= lr g
    momentum -- v = mu v - lr g; p += v (the classic form, Sutskever et al.
                2013; for a constant lr it moves p exactly as PyTorch's SGD)
    nesterov -- v = mu v - lr g; p += mu v - lr g (the same paper's Nesterov
                form, which looks ahead along the new velocity)
    adam     -- m, v the running means of g and g^2, bias-corrected by
                1 - beta^t; p -= lr m_hat / (sqrt(v_hat) + eps) (Kingma and Ba 2015)
    adamw    -- adam, plus the decoupled decay p -= lr weight_decay p on the
                weights W, not b, gamma or beta (Loshchilov and Hutter 2019)
    Every parameter of a layer is updated alike, b or gamma and beta too,
    with its own velocity or moments. For sgd, momentum and nesterov, L2
    weight decay is in the gradient (backward's weight_decay), so the
    weight_decay here is used by adamw only.

    params, grads -- lists of dicts of the same arrays' shapes; state -- from init_state
    Raises ValueError for an unknown optimiser.
    """
    state["step"] += 1
    t = state["step"]
    for l, (layer, layer_grads) in enumerate(zip(params, grads)):
        for name, p in layer.items():
            g, dt = layer_grads[name], p.dtype.type
            if optimiser == "sgd":
                p -= dt(lr) * g
            elif optimiser in ("momentum", "nesterov"):
                step = dt(lr) * g  # the plain gradient step, lr g
                v = state["velocity"][l][name]
                v *= dt(momentum)
                v -= step
                if optimiser == "nesterov":
                    p += dt(momentum) * v
                    p -= step
                else:
                    p += v
            elif optimiser in ("adam", "adamw"):
                m, v = state["m"][l][name], state["v"][l][name]
                b1, b2 = betas
                m *= dt(b1)
                m += dt(1 - b1) * g
                v *= dt(b2)
                v += dt(1 - b2) * g * g
                if optimiser == "adamw" and weight_decay and name == "W":
                    p -= dt(lr * weight_decay) * p
                m_hat = m / dt(1 - b1 ** t)
                v_hat = v / dt(1 - b2 ** t)
                p -= dt(lr) * m_hat / (np.sqrt(v_hat) + dt(eps))
            else:
                raise ValueError(f"unknown optimiser {optimiser!r}")


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
# 9. training: the step (forward, loss, backward, update) and the epoch


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
                after_step=None, **step_options):
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
    after_step -- None, or a function (done, total, loss) called after every
    step with the batches done and in all this epoch; a true answer stops
    the epoch there (Ctrl-C, a stop button)
    step_options -- passed to train_step (activation, dropout, ...)
    Returns a dict: loss and acc, the running means over the batches seen;
    status: "ok", "stopped" (after_step said so) or "diverged" (the loss
    was not finite; params then hold that step's update and must be discarded).
    """
    total_loss, correct, seen = 0.0, 0, 0
    status = "ok"
    smallest = 2 if any(is_normalised(layer) for layer in params) else 1
    total = -(-len(X) // batch_size)
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported instead
        for done, idx in enumerate(batches(len(X), batch_size, rng), start=1):
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
            if after_step is not None and after_step(done, total, loss):
                status = "stopped"
                break
    return {"loss": total_loss / max(seen, 1), "acc": correct / max(seen, 1),
            "status": status}


# ----------------------------------------------------------------------------
# 10. additions to the plain network: dropout, batch normalisation, max-norm.
# Each is its own forward and backward, which forward and backward above call
# for the layers that have it.


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
            keep = rng.random((n, layer["W"].shape[1]), dtype=dtype) >= p
            masks.append(keep * dtype(1 / (1 - p)))
    return masks


def dropout(A, mask):
    """Dropout's forward: A * mask, a new array (A stays, for f'(A) in backward)."""
    return A * mask


def dropout_backward(dA, mask):
    """Overwrites dA: dropout's backward, dA * mask (the output was A * mask)."""
    dA *= mask
    return dA


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
    Evaluation (running = {"mean", "var"} from update_stats): the same with
    the running statistics in place of mu and var, so each row's Y depends
    on that row alone (Ioffe and Szegedy 2015, Algorithm 2). beta takes the
    place of the layer's bias, which the subtraction of mu would cancel anyway.

    Z -- A_prev @ W, (n, n_out), float; gamma, beta -- (n_out,)
    Returns (Y, norm): Y a new (n, n_out) array in training, Z's own memory
    in evaluation; norm = (Zhat, inv_std, mu, var) in training, Zhat being
    Z's memory and inv_std = 1 / sqrt(var + eps), for batch_norm_backward and
    update_stats; None in evaluation.
    """
    if running is not None:
        scale = gamma / np.sqrt(running["var"] + eps)
        Z *= scale
        Z += beta - running["mean"] * scale
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


def init_stats(params):
    """The starting running statistics of batch normalisation: mean 0, variance 1.

    One {"mean", "var"} per normalised layer, each of shape (n_out,) and the
    dtype of its layer, and None for every other layer; None as a whole when
    no layer is normalised. update_stats keeps them during training; forward
    uses them in evaluation.
    """
    if not any(is_normalised(layer) for layer in params):
        return None
    return [{"mean": np.zeros_like(layer["gamma"]), "var": np.ones_like(layer["gamma"])}
            if is_normalised(layer) else None for layer in params]


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
    for running, step in zip(stats, cache):
        if running is None:
            continue
        Zhat, _, mu, batch_var = step["norm"]
        n = len(Zhat)
        if n < 2:
            raise ValueError("batch normalisation needs at least 2 rows in a training batch")
        mean, var = running["mean"], running["var"]
        dt = mean.dtype.type
        mean *= dt(momentum)
        mean += dt(1 - momentum) * mu
        var *= dt(momentum)
        var += dt((1 - momentum) * n / (n - 1)) * batch_var


def max_norm(params, c):
    """Overwrites params' W: caps each unit's incoming weights at an L2 norm of c.

    A unit's incoming weights are a column of W. Capping their norm lets a
    network train with large learning rates and dropout without its weights
    growing without bound (Srivastava et al. 2014, section 5.1). Biases,
    gammas and betas are left alone.
    """
    for layer in params:
        W = layer["W"]
        norms = np.sqrt((W * W).sum(axis=0))
        W *= np.minimum(1, c / np.maximum(norms, 1e-12)).astype(W.dtype)


# ----------------------------------------------------------------------------
# 11. metrics


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
    if stats is None and any(is_normalised(layer) for layer in params):
        raise ValueError("a network with batch normalisation needs its running statistics")
    out = np.empty((len(X), params[-1]["W"].shape[1]), dtype=dtype)
    for idx in batches(len(X), batch_size):
        out[idx] = forward(params, normalise(X[idx], dtype), activation, stats=stats)[0]
    return out


def evaluate(params, X, y, activation="relu", batch_size=8192, stats=None):
    """The mean cross-entropy and accuracy of the network on (X, y), without dropout.

    stats -- the running statistics, for a network with batch normalisation
    """
    Z = predict_logits(params, X, activation, batch_size, params[0]["W"].dtype.type, stats)
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

    Each layer's dict is copied array by array; None (a layer without
    running statistics, or stats of a network without any) stays None.
    """
    if params is None:
        return None
    return [None if layer is None else {name: a.copy() for name, a in layer.items()}
            for layer in params]
