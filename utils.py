"""The pieces of a deep fully-connected network, as small pure functions.

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
the tests run in float64.

Sections: errors, data, augmentation, initialisation, activations,
forward/backward, loss, optimisers, schedules, metrics, persistence,
image preparation, plots.
"""

import csv
import io
import itertools
import math
import os
import pickle
import tempfile
import warnings

import numpy as np
import pandas as pd

# ----------------------------------------------------------------------------
# errors


class InputError(Exception):
    """A problem with the user's input, reported as one line and exit status 2.

    The message names the file, and the line and column where that applies.
    """


# ----------------------------------------------------------------------------
# data


def _text_lines(path):
    """Yield the lines of a file as text, failing on the first that is not UTF-8.

    A byte-order mark (as Excel writes) is dropped from the first line.
    """
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                raise InputError(f"{path}: line {number} is not UTF-8 text") from None


def _header(path):
    """Read and return the header line of a CSV as a list of stripped names."""
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a folder, not a CSV file")
    try:
        first = next(_text_lines(path), "")
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e.strerror})") from None
    if not first.strip():
        raise InputError(f"{path}: is empty (expected a header line like label,pixel0,...)")
    return [name.strip() for name in next(csv.reader([first]))]


def _is_number(text):
    """Whether a string parses as a float."""
    try:
        float(text)
        return True
    except ValueError:
        return False


def _first_bad_cell(text, rows, top):
    """The (row, column, reason) of the first bad cell of a block of rows, or None.

    text -- the block's lines as one string; rows -- the same rows split into
    fields; top -- the largest value allowed in each column. pandas' C reader
    parses a block of plain numbers at once; only a block that holds
    something else (text, an empty cell, 'nan') goes through the slower
    cell-by-cell path that can say which cell and why.
    """
    try:
        values = pd.read_csv(io.StringIO(text), header=None, dtype=np.float64,
                             na_filter=False).to_numpy()
        empty = not_number = np.zeros(values.shape, dtype=bool)
    except ValueError:
        cells = pd.Series(np.array(rows, dtype=str).ravel()).str.strip()
        shape = (len(rows), len(top))
        values = pd.to_numeric(cells, errors="coerce").to_numpy(np.float64).reshape(shape)
        spelled_nan = cells.str.lower().isin(["nan", "-nan", "+nan"]).to_numpy().reshape(shape)
        not_number = np.isnan(values) & ~spelled_nan
        empty = (cells == "").to_numpy().reshape(shape)
    with np.errstate(invalid="ignore"):
        checks = [
            (empty, "is empty"),
            (not_number, "is not a number"),
            (~np.isfinite(values), "is not finite"),
            (values != np.round(values), "is not a whole number"),
            ((values < 0) | (values > top), None),
        ]
    bad = np.logical_or.reduce([mask for mask, _ in checks])
    if not bad.any():
        return None
    row, col = divmod(int(np.argmax(bad.ravel())), bad.shape[1])
    reason = next(r for mask, r in checks if mask[row, col])
    return row, col, reason or f"is outside 0..{top[col]:.0f}"


def _locate_bad_cell(path, n_cols, pixel_start, label_max, label_note=""):
    """Find the first malformed row or cell of a CSV and raise InputError for it.

    Only called when the fast reader has refused the file. The csv module
    reads it in blocks of 2,000 rows, checking each row's width and quoting
    (a field holding a line break means a quote was never closed); each
    block's cells are then checked at once. Blank lines are skipped, as
    pandas skips them.
    """
    raw = []  # the lines the csv reader has taken since the last block

    def lines_read():
        for line in _text_lines(path):
            raw.append(line)
            yield line

    reader = csv.reader(lines_read())
    names = [name.strip() for name in next(reader)]
    raw.clear()
    top = np.array([label_max] * pixel_start + [255] * (n_cols - pixel_start), dtype=np.float64)
    rows, lines = [], []  # a block of rows, and the file line each starts on
    while True:
        start = reader.line_num + 1
        row = next(reader, None)
        joined = ",".join(row) if row else ""
        if "\n" in joined or "\r" in joined:  # a field spanning lines
            raise InputError(f"{path}: line {start}: a quote is never closed")
        if row and len(row) != n_cols:
            raise InputError(f"{path}: line {start} has {len(row)} fields, the header has {n_cols}")
        if row:
            rows.append(row)
            lines.append(start)
        if rows and (row is None or len(rows) == 2000):
            found = _first_bad_cell("".join(raw), rows, top)
            if found:
                i, j, reason = found
                kind = "label" if j < pixel_start else "pixel"
                note = label_note if kind == "label" else " (pixels are whole numbers 0..255)"
                raise InputError(f"{path}: line {lines[i]}, column {j + 1} ({names[j]}): "
                                 f"{kind} {rows[i][j].strip()!r} {reason}{note}")
            rows, lines = [], []
            raw.clear()
        if row is None:
            raise InputError(f"{path}: could not be read as a CSV of whole numbers")


def load_csv(path, label_max=255, label_note=""):
    """Load an MNIST-style CSV into compact arrays, checking every cell.

    The file has a header line, then one image per line: an optional `label`
    column first, then the pixels as whole numbers 0..255. The pixels stay
    uint8 (a quarter of float32's memory) until a batch needs them.

    path       -- the CSV file
    label_max  -- the largest label allowed (the number of classes - 1)
    label_note -- added to a label's error, e.g. to say where label_max comes from
    Returns (X, y): X the pixels, uint8 of shape (n, n_pixels); y the labels,
    int64 of shape (n,), or None when the file has no `label` column.
    Raises InputError naming the file, line and column of the first problem.
    """
    names = _header(path)
    lowered = [name.lower() for name in names]
    has_label = lowered[0] == "label"
    if "label" in lowered[1:]:
        raise InputError(
            f"{path}: line 1, column {lowered.index('label') + 1}: "
            "the 'label' column must come first"
        )
    if _is_number(names[0]):
        raise InputError(
            f"{path}: line 1 holds numbers, not a header (expected label,pixel0,...)"
        )
    pixel_start = 1 if has_label else 0
    if len(names) <= pixel_start:
        raise InputError(f"{path}: line 1: the header names no pixel columns")
    try:
        # The fast path: pandas' C reader refuses anything that is not a whole
        # number in 0..255 (text, NaN, inf, fractions, negatives, > 255,
        # missing cells), and with warnings as errors, rows with extra fields.
        # Reading straight to uint8 is 2.8x faster than int64; reading in
        # chunks of 10,000 rows costs no time and cuts the peak memory of
        # loading train.csv from 450 MB to 170 MB (the parser's buffers).
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            chunks = [chunk.to_numpy() for chunk in pd.read_csv(
                path, dtype=np.uint8, index_col=False, encoding="utf-8-sig", chunksize=10_000)]
    except (ValueError, pd.errors.ParserError, Warning):
        _locate_bad_cell(path, len(names), pixel_start, label_max, label_note)
        raise  # not reached: _locate_bad_cell always raises
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e})") from None
    if any(chunk.shape[1] != len(names) for chunk in chunks):
        _locate_bad_cell(path, len(names), pixel_start, label_max, label_note)
    if sum(len(chunk) for chunk in chunks) == 0:
        raise InputError(f"{path}: has a header line but no rows")
    X = np.concatenate([chunk[:, pixel_start:] for chunk in chunks])
    y = np.concatenate([chunk[:, 0] for chunk in chunks]).astype(np.int64) if has_label else None
    del chunks
    if y is not None and y.max() > label_max:
        _locate_bad_cell(path, len(names), pixel_start, label_max, label_note)
    return X, y


def split_validation(X, y, fraction, rng):
    """Hold out a random `fraction` of the rows as a validation set.

    Returns (X_train, y_train, X_val, y_val). The split depends only on rng,
    so the same seed always holds out the same rows.
    """
    order = rng.permutation(len(X))
    n_val = round(fraction * len(X))
    val, train = order[:n_val], order[n_val:]
    return X[train], y[train], X[val], y[val]


def batches(n, batch_size, rng=None):
    """Yield index arrays that cover range(n) in batches, shuffled when rng is given.

    Training passes its rng so the rows come in a new order every epoch;
    evaluation passes none and walks the rows in order.
    """
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def normalise(X, dtype=np.float32):
    """Scale uint8 pixels 0..255 to floats in [0, 1] of the given dtype."""
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
# augmentation


def random_shift(X, max_shift, rng):
    """Shift each square image by up to max_shift pixels in x and y, padding with 0.

    Shifted copies of the training digits teach the network that a digit a
    pixel or two off centre is the same digit (Simard et al. 2003 report the
    gain from such distortions). Works on any dtype; keeps shape and dtype.

    X         -- a batch of flattened square images, shape (n, side * side)
    max_shift -- the largest shift in pixels; 0 returns X unchanged
    """
    if max_shift == 0:
        return X
    n, n_pixels = X.shape
    side = math.isqrt(n_pixels)
    k = max_shift
    width = side + 2 * k  # the images framed by k rows and columns of zeros
    padded = np.zeros((n, width, width), dtype=X.dtype)
    padded[:, k:k + side, k:k + side] = X.reshape(n, side, side)
    dy, dx = rng.integers(0, 2 * k + 1, size=(2, n))
    grid = (np.arange(side)[:, None] * width + np.arange(side)[None, :]).ravel()
    # one flat gather: each image's window starts dy rows and dx columns into its frame
    start = np.arange(n) * width * width + dy * width + dx
    return padded.ravel()[start[:, None] + grid[None, :]]


def random_affine(X, max_shift, max_degrees, max_scale, rng):
    """Rotate, scale and shift each square image by a small random amount.

    Each output pixel samples the input, bilinearly, at the point the inverse
    transform maps it to; points outside the image read 0. Rotations of up to
    about 15 degrees and scalings of 10-20% are the affine distortions that
    Simard et al. 2003 and Ciresan et al. 2010 train with. Keeps shape and
    dtype (uint8 results are rounded); all three limits 0 return X unchanged.

    X           -- a batch of flattened square images, shape (n, side * side)
    max_shift   -- the largest shift in pixels (drawn uniformly, not whole)
    max_degrees -- the largest rotation either way, in degrees
    max_scale   -- the largest relative change of size, e.g. 0.1 for 90%..110%
    """
    if not (max_shift or max_degrees or max_scale):
        return X
    n, n_pixels = X.shape
    side = math.isqrt(n_pixels)
    centre = (side - 1) / 2
    f32 = np.float32
    angle = np.radians(rng.uniform(-max_degrees, max_degrees, n)).astype(f32)[:, None, None]
    scale = rng.uniform(1 - max_scale, 1 + max_scale, n).astype(f32)[:, None, None]
    shift_y, shift_x = rng.uniform(-max_shift, max_shift, (2, n, 1, 1)).astype(f32)
    grid = np.arange(side, dtype=f32) - f32(centre)
    out_y, out_x = grid[None, :, None] - shift_y, grid[None, None, :] - shift_x
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    # the inverse rotation and scaling; points beyond the image clip to its zero border
    src_y = np.clip(centre + cos * out_y - sin * out_x, -1, side)
    src_x = np.clip(centre + sin * out_y + cos * out_x, -1, side)
    y0, x0 = np.floor(src_y), np.floor(src_x)
    fy, fx = src_y - y0, src_x - x0
    width = side + 3  # one row and column of zeros before the image, two after
    padded = np.zeros((n, width, width), dtype=f32)
    padded[:, 1:side + 1, 1:side + 1] = X.reshape(n, side, side)
    flat = padded.ravel()
    corner = ((np.arange(n)[:, None, None] * width + y0.astype(np.intp) + 1) * width
              + x0.astype(np.intp) + 1)  # the top-left neighbour of each point, in flat
    top = flat[corner] + fx * (flat[corner + 1] - flat[corner])
    bottom = flat[corner + width] + fx * (flat[corner + width + 1] - flat[corner + width])
    out = top + fy * (bottom - top)
    out = out.reshape(n, n_pixels)
    if X.dtype == np.uint8:
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return out.astype(X.dtype)


# ----------------------------------------------------------------------------
# initialisation


def init_params(layers, rng, init="he", dtype=np.float32):
    """Draw the starting weights of a network with the given layer widths.

    He initialisation (He et al. 2015) draws W with variance 2 / n_in, which
    keeps the variance of ReLU activations steady from layer to layer; Glorot
    (Glorot and Bengio 2010) draws with variance 2 / (n_in + n_out), suited to
    tanh and sigmoid. Biases start at zero.

    layers -- widths from input to output, e.g. [784, 256, 10]
    rng    -- a np.random.Generator
    init   -- "he" or "glorot"
    Returns a list of (W, b), W of shape (n_in, n_out), b of shape (n_out,).
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
    """max(Z, 0), computed in place in Z (forward owns Z, nobody else sees it)."""
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
    """tanh(Z), in place."""
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


ACTIVATIONS = {
    "relu": (relu, relu_grad),
    "leaky_relu": (leaky_relu, leaky_relu_grad),
    "tanh": (tanh, tanh_grad),
    "sigmoid": (sigmoid, sigmoid_grad),
}


def default_init(activation):
    """The initialisation that suits an activation: He for the ReLUs, else Glorot."""
    return "he" if activation in ("relu", "leaky_relu") else "glorot"


# ----------------------------------------------------------------------------
# forward / backward


def dropout_masks(params, n, rates, rng, dtype=np.float32):
    """Draw one inverted-dropout mask per hidden layer for a batch of n rows.

    A unit is kept with probability 1 - p and, when kept, scaled by 1 / (1 - p),
    so the expected activation is unchanged and evaluation needs no rescaling
    (Srivastava et al. 2014). A rate of 0 gives None: that layer is untouched.

    rates -- one dropout rate per hidden layer (len(params) - 1 of them)
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

    X     -- inputs, shape (n, layers[0])
    masks -- None, or one mask (or None) per hidden layer from dropout_masks
    Returns (Z, cache): Z the logits, shape (n, layers[-1]); cache holds, per
    layer, its input (X, then each hidden activation after dropout), each
    hidden activation before dropout (the same array when there is none),
    and the masks.
    """
    act = ACTIVATIONS[activation][0]
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


def backward(params, cache, dZ, activation="relu", weight_decay=0.0):
    """Backpropagate dZ, the gradient at the logits, through every layer.

    For each layer, from the last: dW = A_prev^T dZ, db = sum of dZ over the
    batch, and, except at the input layer (whose gradient nobody needs),
    dA_prev = dZ W^T, then through the dropout mask and the activation's
    derivative to the previous layer's dZ. With weight_decay > 0 the gradient
    of the L2 penalty (weight_decay / 2) * sum(W^2) is added to each dW.

    cache -- from forward; dZ -- from softmax_cross_entropy, shape (n, layers[-1])
    Returns grads, a list of (dW, db) in the shape of params.
    """
    grad = ACTIVATIONS[activation][1]
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
# loss


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
    """The mean cross-entropy loss and its gradient at the logits, fused.

    With P = softmax(Z), the gradient of the mean loss is (P - onehot(y)) / n:
    subtracting 1 at each row's true class avoids building the one-hot matrix.
    Z is overwritten with the gradient (the training step no longer needs it).

    Returns (loss, dZ): loss a float, dZ of the shape of Z.
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
# optimisers: each keeps its state per layer and per parameter, in the
# structure of params, and updates params in place.


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
    """Take one optimisation step in place; the grads are overwritten.

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
    arrays: measured 4-8% faster per training step than v = mu v + g; p -= lr v.
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
    """Rescale, in place, each unit's incoming weights to an L2 norm of at most c.

    A unit's incoming weights are a column of W. Capping their norm lets a
    network train with large learning rates and dropout without its weights
    growing without bound (Srivastava et al. 2014, section 5.1).
    """
    for W, _ in params:
        norms = np.sqrt((W * W).sum(axis=0))
        W *= np.minimum(1, c / np.maximum(norms, 1e-12)).astype(W.dtype)


# ----------------------------------------------------------------------------
# learning-rate schedules


def learning_rate(step, total_steps, lr, schedule="cosine", warmup_steps=0,
                  step_every=1, gamma=0.1):
    """The learning rate at a step (counted from 0) of a run of total_steps.

    constant -- lr throughout
    step     -- lr * gamma ** (step // step_every): drops by gamma every step_every steps
    cosine   -- lr * (1 + cos(pi * progress)) / 2, from lr down to 0 at the end
                (Loshchilov and Hutter 2017, without restarts)
    A linear warm-up over the first warmup_steps ramps from lr / warmup_steps to
    the schedule's value; progress of the cosine counts from the warm-up's end.
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
# training


def train_step(params, state, X, y, lr, rng, activation="relu", dropout=None,
               weight_decay=0.0, optimiser="momentum", momentum=0.9, max_norm_c=0.0):
    """One step of mini-batch training: forward, loss, backward, update, in place.

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


def train_epoch(params, state, X, y, batch_size, rng, lr_at, augment=None,
                should_stop=lambda: False, **step_options):
    """One pass over the training rows in a new random order, in mini-batches.

    X -- uint8 pixels, (n, layers[0]); each batch is augmented (if augment)
    and scaled to float32 only when its turn comes, so the data set stays
    compact and is never copied whole.
    augment -- None, or a function (X_batch, rng) -> X_batch, e.g. random_shift
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


# ----------------------------------------------------------------------------
# metrics


def accuracy(Z, y):
    """The fraction of rows whose largest logit (or probability) is the label."""
    return float(np.mean(Z.argmax(axis=1) == y))


def predict_logits(params, X, activation="relu", batch_size=8192, dtype=np.float32):
    """The logits of every row of uint8 X, computed in batches to bound memory."""
    out = np.empty((len(X), params[-1][0].shape[1]), dtype=dtype)
    for idx in batches(len(X), batch_size):
        out[idx] = forward(params, normalise(X[idx], dtype), activation)[0]
    return out


def evaluate(params, X, y, activation="relu", batch_size=8192):
    """The mean cross-entropy and accuracy of the network on (X, y), without dropout."""
    Z = predict_logits(params, X, activation, batch_size, params[0][0].dtype.type)
    return cross_entropy(Z, y), accuracy(Z, y)


def confusion_matrix(y, pred, n_classes):
    """Counts C[i, j] of rows with true label i predicted as j."""
    return (one_hot(y, n_classes, np.int64).T @ one_hot(pred, n_classes, np.int64))


def count_params(layers):
    """The number of weights and biases of a network with these widths."""
    return sum(n_in * n_out + n_out for n_in, n_out in itertools.pairwise(layers))


# ----------------------------------------------------------------------------
# persistence


def copy_params(params):
    """A copy of params that later training steps will not change."""
    return [(W.copy(), b.copy()) for W, b in params]


def arch_name(layers):
    """A file-name-safe name of an architecture, e.g. '784-256-10'."""
    return "-".join(str(n) for n in layers)


def save_atomic(path, write):
    """Write a file through write(f) so that it is whole or not there at all.

    The data goes to a temporary file in the same folder, is flushed to disk,
    then os.replace puts it in place in one step: a crash, Ctrl-C or a full
    disk midway leaves any earlier file at `path` as it was.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)  # mkstemp makes the file private; give it the usual mode
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save_weights(path, result):
    """Pickle the result dict (layers, params, config, history, ...) atomically."""
    save_atomic(path, lambda f: pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL))


class _SafeUnpickler(pickle.Unpickler):
    """An unpickler that builds only NumPy arrays, dtypes and builtin data.

    Plain pickle.load imports and calls whatever a file names, so a weights
    file from someone else could run any command. Lists, dicts, tuples,
    strings and numbers need no import; the few NumPy names below are all an
    array needs, and anything else is refused before it runs.
    """

    ALLOWED = frozenset({
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"), ("numpy.core.multiarray", "scalar"),
        ("numpy._core.numeric", "_frombuffer"), ("numpy.core.numeric", "_frombuffer"),
    })

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused to load {module}.{name}")


def load_weights(path):
    """Load a weights file written by save_weights, safely, and check its shapes.

    Returns the result dict; its params are checked to be float arrays whose
    shapes match its layers. Raises InputError on anything else.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise InputError(f"{path}: no such weights file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e.strerror})") from None
    try:
        result = _SafeUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError as e:
        raise InputError(f"{path}: not a weights file of this project ({e})") from None
    except (EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError,
            MemoryError) as e:  # truncated or garbled files fail in many ways
        raise InputError(f"{path}: not a readable weights file ({type(e).__name__})") from None
    if not isinstance(result, dict) or "layers" not in result or "params" not in result:
        raise InputError(f"{path}: not a weights file of this project (no layers/params)")
    layers, params = result["layers"], result["params"]
    ok = (isinstance(layers, list) and len(layers) >= 2
          and all(isinstance(n, int) and n >= 1 for n in layers)
          and isinstance(params, list) and len(params) == len(layers) - 1)
    if ok:
        for (n_in, n_out), layer in zip(itertools.pairwise(layers), params):
            ok = ok and isinstance(layer, (tuple, list)) and len(layer) == 2 and all(
                isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in layer
            ) and layer[0].shape == (n_in, n_out) and layer[1].shape == (n_out,)
    if not ok:
        raise InputError(f"{path}: its params do not match its layers {layers!r}")
    result["params"] = [tuple(layer) for layer in params]
    return result


# ----------------------------------------------------------------------------
# image preparation (for predicting a digit drawn by hand)


def resize(img, shape):
    """Resize a 2-D grey image by bilinear interpolation, NumPy only."""
    h, w = img.shape
    H, W = shape
    ys = (np.arange(H) + 0.5) * h / H - 0.5
    xs = (np.arange(W) + 0.5) * w / W - 0.5
    y0 = np.clip(np.floor(ys).astype(int), 0, h - 1)
    x0 = np.clip(np.floor(xs).astype(int), 0, w - 1)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy = np.clip(ys - y0, 0, 1)[:, None]
    fx = np.clip(xs - x0, 0, 1)[None, :]
    top = img[y0][:, x0] * (1 - fx) + img[y0][:, x1] * fx
    bottom = img[y1][:, x0] * (1 - fx) + img[y1][:, x1] * fx
    return top * (1 - fy) + bottom * fy


def prepare_digit(img, side=28, box=20):
    """Turn a picture of one digit into an MNIST-style row of side*side pixels.

    MNIST's digits are light on dark, scaled to fit a 20x20 box with their
    aspect ratio kept, then centred by their centre of mass in 28x28 (LeCun
    et al., the MNIST page). This does the same: grey levels; inverted if the
    background (the border's median) is light; cropped to the digit; scaled
    (shrinking first averages blocks, so thin strokes survive); then shifted.

    img -- an image array as matplotlib reads it: (h, w), (h, w, 3) or
           (h, w, 4), floats in 0..1 or integers in 0..255
    Returns a uint8 array of shape (side * side,).
    """
    img = np.asarray(img, dtype=np.float64)
    if img.dtype.kind != "f" or img.max() > 1:
        img = img / 255.0
    if img.ndim == 3:
        if img.shape[2] == 4:  # composite on white
            img = img[..., :3] * img[..., 3:] + (1 - img[..., 3:])
        img = img[..., :3] @ np.array([0.299, 0.587, 0.114])
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
    if np.median(border) > 0.5:  # dark on light: make it light on dark like MNIST
        img, border = 1 - img, 1 - border
    img = np.clip(img - np.median(border), 0, 1)  # the background to 0
    ink = img > 0.1 * img.max() if img.max() > 0 else np.zeros(img.shape, bool)
    if not ink.any():
        raise ValueError("the image is blank: no digit found")
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    img = img[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = img.shape
    scale = box / max(h, w)
    H, W = max(1, round(h * scale)), max(1, round(w * scale))
    factor = int(min(h // H, w // W))
    if factor > 1:  # average factor x factor blocks before interpolating
        img = img[:h - h % factor, :w - w % factor]
        img = img.reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))
    digit = resize(img, (H, W))
    total = digit.sum()
    cy = digit.sum(axis=1) @ np.arange(H) / total  # the centre of mass, in the box
    cx = digit.sum(axis=0) @ np.arange(W) / total
    top = int(np.clip(round((side - 1) / 2 - cy), 0, side - H))  # stay on the canvas
    left = int(np.clip(round((side - 1) / 2 - cx), 0, side - W))
    canvas = np.zeros((side, side))
    canvas[top:top + H, left:left + W] = digit
    return np.clip(np.round(canvas / canvas.max() * 255), 0, 255).astype(np.uint8).ravel()


# ----------------------------------------------------------------------------
# plots (matplotlib is imported here so the trainer starts without it)


def _pyplot():
    """matplotlib.pyplot on the headless Agg backend."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save_figure(fig, path, dpi=110):
    """Save a figure as PNG atomically and close it."""
    plt = _pyplot()
    save_atomic(path, lambda f: fig.savefig(f, format="png", dpi=dpi))
    plt.close(fig)


def plot_history(history, title, path):
    """Plot train and validation loss and accuracy against epoch, side by side."""
    plt = _pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = history["epoch"]
    for ax, key, label in ((ax_loss, "loss", "cross-entropy loss"),
                           (ax_acc, "acc", "accuracy")):
        ax.plot(epochs, history[f"train_{key}"], "o-", ms=3, label="train")
        ax.plot(epochs, history[f"val_{key}"], "o-", ms=3, label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    _save_figure(fig, path)


def plot_confusion(C, title, path):
    """Draw a confusion matrix of counts, with each class's accuracy on the y axis."""
    plt = _pyplot()
    k = len(C)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    ax.imshow(np.log1p(C), cmap="Blues")
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(C[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if C[i, j] > C.max() / 2 else "black")
    per_class = np.diag(C) / np.maximum(C.sum(axis=1), 1)
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_yticklabels([f"{i} ({a:.1%})" for i, a in enumerate(per_class)])
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label (accuracy of the class)")
    ax.set_title(title)
    fig.tight_layout()
    _save_figure(fig, path)


def plot_mistakes(X, y, P, title, path, count=24):
    """Draw the wrongly predicted images with the most confident wrong answers.

    X the uint8 images, y the labels, P the predicted probabilities (n, k).
    Each panel shows the true label, the predicted one and their probabilities.
    Returns the indices of the rows shown.
    """
    plt = _pyplot()
    pred = P.argmax(axis=1)
    wrong = np.flatnonzero(pred != y)
    shown = wrong[np.argsort(-P[wrong, pred[wrong]], kind="stable")][:count]
    side = math.isqrt(X.shape[1])
    cols = 8
    rows = max(1, math.ceil(len(shown) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.3, rows * 1.55), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), shown):
        ax.imshow(X[i].reshape(side, side), cmap="gray_r")
        ax.set_title(f"true {y[i]} ({P[i, y[i]]:.2f})\nsaid {pred[i]} ({P[i, pred[i]]:.2f})",
                     fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    _save_figure(fig, path)
    return shown


def plot_compare(histories, path):
    """Draw the validation loss and accuracy of several runs on shared axes.

    histories -- a dict of {label: history}
    """
    plt = _pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for label, h in histories.items():
        ax_loss.plot(h["epoch"], h["val_loss"], "o-", ms=3, label=label)
        ax_acc.plot(h["epoch"], h["val_acc"], "o-", ms=3, label=label)
    for ax, name in ((ax_loss, "validation loss"), (ax_acc, "validation accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("architectures compared (same data, seed and settings)")
    fig.tight_layout()
    _save_figure(fig, path)
