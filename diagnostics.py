"""Look inside a network while it learns: per-layer statistics, a diagnosis, a gradient check.

The curves of a run say how well it learns; this module says why, layer by
layer, in three parts:

    layer_stats  -- figures of every layer on a fixed probe of rows: its
                    activations (mean, spread, dead or saturated units, a
                    histogram), the size of its weight gradient, and how
                    far the weights move per step and per epoch. main.train
                    keeps one record before training and one after every
                    epoch in the history, history["layers"].
    diagnose     -- those records in plain words, when something is wrong:
                    vanishing or exploding gradients, dead or saturated
                    layers, steps far from a healthy size; each line names
                    the picture that shows it and what to try.
    gradient_check -- backward's gradients against central finite
                    differences on a small float64 copy of the network
                    (python main.py --GRADCHECK).

The habits are Karpathy's (*Neural Networks: Zero to Hero*, makemore part 3,
"activations and gradients"): look at each layer's activations, its share
of saturated units, its gradients, and the ratio of each update to the
weights it changes, about 1e-3 per step when training is healthy. The
vanishing gradient is Nielsen's (*Neural Networks and Deep Learning*,
chapter 5): in a deep sigmoid network the first hidden layer learns one to
two orders of magnitude more slowly than the last.

The statistics are read, never fed back: nothing here changes the
parameters, the running statistics or any random generator, so a run with
them ends bit for bit where it would without. Every figure is a plain
Python float (or None where it does not apply), so the records pickle with
the project's restricted unpickler and compare equal after a resume.
NumPy and utils only; no file access.
"""

import itertools
import math

import numpy as np

import utils

PROBE_ROWS = 1000  # validation rows the statistics are computed on (~2% of an epoch's work)
HIST_BINS = 40  # bins of each layer's histogram of activations
DEAD_UNITS = ("relu", "leaky_relu")  # activations whose units can die: never active on any row
# Karpathy counts a tanh unit saturated where |A| > 0.97: its derivative 1 - A^2 is then
# below 6% of its peak. The sigmoid is a tanh rescaled, sigmoid(z) = (1 + tanh(z / 2)) / 2,
# so the same point is a sigmoid within 0.015 of 0 or 1 (derivative A (1 - A) below 6% of
# its peak 0.25). Each value is the distance to the limits that counts as saturated.
SATURATION = {"tanh": 0.03, "sigmoid": 0.015}
HEALTHY_STEP = 1e-3  # Karpathy's update-to-weight ratio of a healthy step
# The diagnosis: a line is printed only beyond these, calibrated so that the default network
# (python main.py) prints none and a [784, 30, 30, 30, 30, 10] sigmoid network does.
GAP = 10.0  # first hidden layer's gradient this many times smaller (or larger) than the last's
GROWTH = 100.0  # a layer's gradient this many times its size before training: exploding
MOSTLY = 0.5  # share of a layer's units dead, or of its activations saturated
STEP_LIMITS = (1e-5, 1e-1)  # the largest layer's step ratio outside these: lr far off
CHECK_WIDTH = 8  # the gradient check's copy: every width but the output's capped at this
CHECK_TOLERANCE = 1e-6  # relative error above which a gradient is wrong (float64)
SMOOTH = ("sigmoid", "tanh")  # activations without a kink: the check may use a larger eps


# ----------------------------------------------------------------------------
# the statistics


def probe(X_val, y_val, X_train, y_train, rows=PROBE_ROWS):
    """The rows the statistics look at: the first `rows` validation rows, as float32.

    The validation rows were drawn at random by the split, so their first
    rows are a random sample; without validation rows (VAL_FRACTION = 0)
    the first training rows stand in. Never the test rows.
    X_* -- uint8 (n, n_in); y_* -- int (n,). Returns (X float32 (m, n_in), y (m,)).
    """
    X, y = (X_val, y_val) if len(X_val) else (X_train, y_train)
    return utils.normalise(X[:rows]), y[:rows]


def _rms(a):
    """The root mean square of an array, accumulated in float64."""
    return math.sqrt(float(np.mean(np.square(a, dtype=np.float64)))) if a.size else 0.0


def _norm(a):
    """The L2 (Frobenius) norm of an array, accumulated in float64."""
    return math.sqrt(float(np.sum(np.square(a, dtype=np.float64))))


def _ratio(a, b):
    """a / b as a float, or None when b is 0 or either is not finite."""
    return a / b if b > 0 and math.isfinite(a) and math.isfinite(b) else None


def steady_step(dW, lr, optimiser="sgd", momentum=0.9, eps=1e-8):
    """The RMS of the step the optimiser takes when every batch's gradient is dW.

    sgd                -- lr dW
    momentum, nesterov -- lr dW / (1 - momentum): the velocity of a steady
                          gradient settles at that (either form, Sutskever
                          et al. 2013)
    adam, adamw        -- lr dW / (|dW| + eps): a steady gradient's moments
                          settle at m = dW, v = dW^2 (Kingma and Ba 2015)
    For plain SGD this is exactly the step's size; with momentum or Adam
    it is the size of the part of each step that the mean gradient drives
    (batches' noise partly cancels in the averages). dW -- float array;
    returns a float.
    """
    if optimiser in ("adam", "adamw"):
        return lr * _rms(dW / (np.abs(dW) + dW.dtype.type(eps)))
    scale = 1 / (1 - momentum) if optimiser in ("momentum", "nesterov") else 1.0
    return lr * scale * _rms(dW)


def _histogram(A):
    """A hidden layer's activations as a histogram: HIST_BINS counts between lo and hi of
    the values that are not exactly 0, and the share that is (ReLU's inactive units)."""
    zero = float(np.mean(A == 0))
    values = A[A != 0] if zero else A
    if values.size and not (np.isfinite(values.min()) and np.isfinite(values.max())):
        values = values[np.isfinite(values)]  # an overflowing layer: bin what can be binned
    if not values.size:
        return {"lo": 0.0, "hi": 0.0, "counts": [0] * HIST_BINS, "zero": zero}
    counts, edges = np.histogram(values, bins=HIST_BINS)
    return {"lo": float(edges[0]), "hi": float(edges[-1]), "counts": counts.tolist(),
            "zero": zero}


def layer_stats(params, X, y, activation="relu", stats=None, before=None, lr=0.0,
                optimiser="sgd", momentum=0.9, epoch=0):
    """Every layer's figures on a probe of rows: one record of history["layers"].

    Activations are those of evaluation (with batch normalisation, the
    running statistics), what the network does to a row. The gradients are
    those of the mean loss over the probe, computed as training does
    (forward without dropout, softmax_cross_entropy, backward; a normalised
    layer uses the probe's own batch statistics), without weight decay.
    Nothing passed in is changed.

    params -- the network, as in utils; X -- float32 (n, n_in) probe rows; y -- labels (n,)
    stats -- batch normalisation's running statistics, or None
    before -- None, or each layer's W at the start of the epoch (weights_of)
    lr -- the learning rate of the nearest step; optimiser, momentum -- as in utils.update
    Returns a dict of plain floats and lists, per hidden layer (act_*, dead,
    saturated, hist) or per layer (the rest):
        epoch, lr, rows
        act_mean, act_std -- mean and standard deviation of the activations
        dead      -- share of units never active (A <= 0) on any probe row;
                     None for activations other than DEAD_UNITS
        saturated -- share of activations within SATURATION of the limits;
                     None for activations other than sigmoid and tanh
        hist      -- histograms of the activations (see _histogram)
        dW_rms    -- RMS of dW, the gradient of the mean loss over the probe
        db_norm   -- L2 norm of db (dbeta for a normalised layer): Nielsen's
                     "speed of learning" of a layer
        W_norm    -- ||W||
        update    -- ||W - W_before|| / ||W_before||, how far the epoch moved
                     W; None without `before` (the record before training)
        step      -- steady_step(dW) / RMS(W), the update-to-weight ratio of
                     one step (Karpathy's figure, healthy about 1e-3)
    """
    hidden = len(params) - 1
    Z, cache = utils.forward(params, X, activation)
    if stats is not None:  # evaluation's activations; training's cache stays for backward
        acts = [step["A"] for step in utils.forward(params, X, activation, stats=stats)[1]]
    else:
        acts = [step["A"] for step in cache]
    _, dZ = utils.softmax_cross_entropy(Z, y)
    grads = utils.backward(params, cache, dZ, activation)
    limit = SATURATION.get(activation)
    record = {"epoch": epoch, "lr": float(lr), "rows": len(X),
              "act_mean": [float(A.mean(dtype=np.float64)) for A in acts[:hidden]],
              "act_std": [float(A.std(dtype=np.float64)) for A in acts[:hidden]],
              "dead": ([float(np.mean(~(A > 0).any(axis=0))) for A in acts[:hidden]]
                       if activation in DEAD_UNITS else None),
              "saturated": None, "hist": [_histogram(A) for A in acts[:hidden]],
              "dW_rms": [], "db_norm": [], "W_norm": [], "update": None, "step": []}
    if limit is not None:
        low, high = (-1.0, 1.0) if activation == "tanh" else (0.0, 1.0)
        record["saturated"] = [float(np.mean((A < low + limit) | (A > high - limit)))
                               for A in acts[:hidden]]
    for layer, layer_grads in zip(params, grads):
        W, dW = layer["W"], layer_grads["W"]
        record["dW_rms"].append(_rms(dW))
        record["db_norm"].append(_norm(layer_grads["beta" if "beta" in layer_grads else "b"]))
        record["W_norm"].append(_norm(W))
        record["step"].append(_ratio(steady_step(dW, lr, optimiser, momentum), _rms(W)))
    if before is not None:
        record["update"] = [_ratio(_norm(layer["W"] - W0), _norm(W0))
                            for layer, W0 in zip(params, before)]
    return record


def weights_of(params):
    """A copy of each layer's W, to measure later how far an epoch moved them (cheap:
    the weights only, not the biases or the optimiser's state)."""
    return [layer["W"].copy() for layer in params]


# ----------------------------------------------------------------------------
# the diagnosis


def _layer_name(l, n_layers):
    """Layer l (from 0) as the summary numbers it: 'layer 3', or 'the output layer'."""
    return "the output layer" if l == n_layers - 1 else f"layer {l + 1}"


def _times(ratio):
    """A ratio as 'N x' to two significant digits: '35x', '2,600x', '260,000x'."""
    return f"{float(f'{ratio:.2g}'):,.0f}x"


def _and(words):
    """'a', 'a and b', 'a, b and c'."""
    words = list(words)
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _layers(numbers):
    """'layer 2', or 'layers 1, 2 and 3'."""
    named = [str(n) for n in numbers]
    return f"layer{'s' * (len(named) > 1)} {_and(named)}"


def _try(*options):
    """'try A', 'try A or B', 'try A, B or C' from the options that apply (empty ones dropped)."""
    options = [o for o in options if o]
    if len(options) > 1:
        return f"try {', '.join(options[:-1])} or {options[-1]}"
    return f"try {options[0]}" if options else ""


def diagnose(records, activation="relu", batch_norm=False):
    """What the records of history["layers"] say is wrong, in plain words; [] if nothing.

    Looks at the latest record for vanishing or exploding gradients (the
    first hidden layer's dW RMS GAP times smaller or larger than the last
    hidden layer's), a layer mostly (MOSTLY) dead or saturated; across the
    records for gradients that grew GROWTH times since the first; and, among
    the records after training began (the one before it if there is none), at
    the one of the largest learning rate for steps far from healthy (the
    largest layer's step ratio outside STEP_LIMITS): before any training the
    gradient is that of a network that knows nothing, larger than any it
    meets once learning is under way. Steps too small are not blamed on the
    learning rate when dead, saturated or vanishing layers explain them.
    Each line names the picture that shows it and what to try.
    records -- a list of layer_stats dicts, oldest first. Returns a list of str.
    """
    if not records:
        return []
    last, first = records[-1], records[0]
    grads, n_layers = last["dW_rms"], len(last["dW_rms"])
    hidden = n_layers - 1
    lines = []
    relu = "" if activation in DEAD_UNITS else 'ACTIVATION="relu"'
    bn = "" if batch_norm else "BATCH_NORM=True"
    why = {"sigmoid": "the sigmoid's derivative is at most 0.25, so each layer passes back at "
                      "most a quarter of the gradient it gets",
           "tanh": "saturated tanh units pass back little of the gradient they get"}
    if hidden >= 2 and grads[0] > 0 and grads[hidden - 1] > 0:
        gap = grads[hidden - 1] / grads[0]
        figures = f"(dW RMS {grads[0]:.2g} against {grads[hidden - 1]:.2g}"
        start = first["dW_rms"]
        if len(records) > 1 and start[0] > 0:
            figures += f"; {_times(start[hidden - 1] / start[0])} before training"
        figures += ")"
        if gap >= GAP:
            cause = why.get(activation, "each layer passes back less than it gets")
            lines.append(f"layer 1 gets gradients {_times(gap)} smaller than layer {hidden} "
                         f"{figures}, so it learns {_times(gap)} more slowly: vanishing "
                         f"gradients ({cause}); see layers.png; "
                         + _try(relu, bn or 'INIT="he"'))
        elif 1 / gap >= GAP:
            lines.append(f"layer 1 gets gradients {_times(1 / gap)} larger than layer {hidden} "
                         f"{figures}: exploding gradients; see layers.png; "
                         + _try("a lower LEARNING_RATE", bn, "MAX_NORM=3.0"))
    grown = [(_ratio(now, then), l) for l, (now, then)
             in enumerate(zip(grads, first["dW_rms"]))]
    grown = max(((g, l) for g, l in grown if g is not None), default=(None, 0))
    if len(records) > 1 and grown[0] is not None and grown[0] >= GROWTH:
        lines.append(f"{_layer_name(grown[1], n_layers)}'s gradients grew {_times(grown[0])} "
                     f"since before training: exploding gradients; see layers.png; "
                     + _try("a lower LEARNING_RATE", "MAX_NORM=3.0", bn))
    dead = [(l + 1, share) for l, share in enumerate(last["dead"] or []) if share > MOSTLY]
    if dead:
        leaky = "" if activation == "leaky_relu" else 'ACTIVATION="leaky_relu"'
        shares = _and(f"{share:.0%}" for _, share in dead)
        lines.append(f"{_layers(l for l, _ in dead)}: {shares} of the units are dead (never "
                     f"active on the {last['rows']} probe rows), and "
                     + ("such a unit learns at the leak's 1% of the rate only"
                        if activation == "leaky_relu" else "a dead unit no longer learns")
                     + "; see layers.png and activations.png; "
                     + _try("a lower LEARNING_RATE", leaky, bn))
    saturated = [(l + 1, share) for l, share in enumerate(last["saturated"] or [])
                 if share > MOSTLY]
    if saturated:
        shares = _and(f"{share:.0%}" for _, share in saturated)
        lines.append(f"{_layers(l for l, _ in saturated)}: {shares} of the activations are "
                     f"saturated (within {SATURATION[activation]} of the {activation}'s limits, "
                     "where its derivative is almost 0), so little gradient gets through; see "
                     "activations.png; " + _try(bn, relu, "a lower LEARNING_RATE"))
    trained = [r for r in records if r["epoch"] > 0 and r["lr"] > 0] or records[:1]
    peak = max(trained, key=lambda r: r["lr"]) if trained[0]["lr"] > 0 else None
    top = max(records, key=lambda r: (r["lr"], r["epoch"] > 0))  # at the highest rate
    steps = [(s, l) for l, s in enumerate(peak["step"] if peak else []) if s is not None]
    if steps:
        fastest, l = max(steps)
        low, high = STEP_LIMITS
        moves = (f"each step moves {_layer_name(l, n_layers)}'s weights by {fastest:.1g} of "
                 f"their size at learning rate {peak['lr']:.3g}")
        if fastest > high:
            lines.append(f"{moves}, the fastest of all layers (healthy is about "
                         f"{HEALTHY_STEP:g}): the learning rate is too high; see layers.png; "
                         "try a lower LEARNING_RATE")
        elif 0 < fastest < low and not lines and max(  # not when dead or vanishing layers
                (s for s in top["step"] if s is not None), default=0) < low:
            # explain it, nor when the record at the highest rate moved faster (EPOCHS=1:
            # the cosine ends near 0, and epoch 0, before training, is at the full rate)
            lines.append(f"{moves}, the fastest of all layers (healthy is about "
                         f"{HEALTHY_STEP:g}): the learning rate is too low, training will "
                         "crawl; see layers.png; try a higher LEARNING_RATE")
    return lines


# ----------------------------------------------------------------------------
# the gradient check


def relative_error(a, b):
    """|a - b| / (|a| + |b|) in the L2 norm over the whole array (0 when both are 0)."""
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300))


def gradient_errors(params, X, y, activation="relu", masks=None, weight_decay=0.0, eps=1e-6):
    """Compare backward's gradients with central finite differences of the loss.

    The loss is cross_entropy(forward(...)) + l2_penalty(params, weight_decay),
    with the same dropout masks in every forward pass, in training mode (a
    layer with batch normalisation uses the batch's statistics). Each
    parameter p is moved by +-eps in turn, and (loss(p + eps) - loss(p - eps))
    / (2 eps) taken as its derivative (central differences: exact to O(eps^2)
    where the loss is smooth). params are float64 and left as they were.
    Returns one tuple per layer, holding one (relative error, norm of
    backward's gradient, norm of the finite differences) triple per parameter
    of the layer, in its order: W, b or W, gamma, beta. The norms show a check of an
    all-zero gradient, which would prove nothing, and one too small for
    float64 to resolve (see gradient_check).
    """
    def loss():
        Z, _ = utils.forward(params, X.copy(), activation, masks)
        return utils.cross_entropy(Z, y) + utils.l2_penalty(params, weight_decay)

    Z, cache = utils.forward(params, X.copy(), activation, masks)
    _, dZ = utils.softmax_cross_entropy(Z, y)
    analytic = utils.backward(params, cache, dZ, activation, weight_decay=weight_decay)
    out = []
    for layer, layer_grads in zip(params, analytic):
        row = []
        for name, p in layer.items():
            g = layer_grads[name]
            numeric = np.zeros_like(p)
            for idx in np.ndindex(p.shape):
                old = p[idx]
                p[idx] = old + eps
                up = loss()
                p[idx] = old - eps
                down = loss()
                p[idx] = old
                numeric[idx] = (up - down) / (2 * eps)
            row.append((relative_error(g, numeric), float(np.linalg.norm(g)),
                        float(np.linalg.norm(numeric))))
        out.append(tuple(row))
    return out


def check_problem(layers, activation="relu", seed=0, n=12, batch_norm=False, init=None):
    """A float64 network of these widths, n rows of X and labels y holding every class.

    Weights are drawn as training draws them (init, by default the
    activation's own); biases, gammas and betas are drawn away from their
    starting 0 and 1, so that a gradient mixed up between them would show.
    X is standard normal, (n, layers[0]); y cycles through the classes,
    shuffled. Returns (params, X, y).
    """
    rng = np.random.default_rng(seed)
    params = utils.init_params(layers, rng, init or utils.default_init(activation),
                               dtype=np.float64, batch_norm=batch_norm)
    params = [{"W": layer["W"], "gamma": rng.normal(1, 0.3, layer["gamma"].shape),
               "beta": rng.normal(0, 0.3, layer["beta"].shape)} if utils.is_normalised(layer)
              else {"W": layer["W"], "b": rng.normal(0, 0.1, layer["b"].shape)}
              for layer in params]
    X = rng.standard_normal((n, layers[0]))
    y = rng.permutation(np.arange(n) % layers[-1])
    return params, X, y


def gradient_check(layers, activation="relu", batch_norm=False, init="", dropout=None,
                   weight_decay=0.0, seed=0):
    """Check backward on a small float64 copy of a network; return (lines to print, ok).

    The copy has the network's depth, activation, initialisation, batch
    normalisation, dropout (one fixed mask per hidden layer, the same in
    every forward pass) and coupled weight decay, every width but the
    output's capped at CHECK_WIDTH, and twice as many random rows as
    classes, every class among them, so that it checks in well under a
    second. Each layer's dW, db (or dgamma, dbeta) is compared with
    gradient_errors, with eps 1e-5 for the smooth activations (SMOOTH) and
    1e-6 for those with a kink at 0, which a larger step would straddle
    more often; ok is True when every relative error is below
    CHECK_TOLERANCE.

    Float64 resolves a loss of about 2.3 to about 2.3 * 2^-53, so each finite
    difference carries a rounding error of about that over 2 eps (measured:
    2e-10 per weight at eps 1e-6). A gradient whose size is near that, the
    first layers of a deep sigmoid network whose gradients vanish, cannot
    be checked this way: it is shown as such and not counted (a wrong
    derivative still shows in the layers above it). The lines name the
    layer where backward first goes wrong, counting from the output: the
    layers below it inherit its error.
    dropout -- None or one rate per hidden layer; never reads any data file.
    """
    small = [min(n, CHECK_WIDTH) for n in layers[:-1]] + [layers[-1]]
    rows = max(12, 2 * layers[-1])
    params, X, y = check_problem(small, activation, seed, rows, batch_norm, init or None)
    masks = (utils.dropout_masks(params, rows, dropout, np.random.default_rng(seed + 1),
                                 dtype=np.float64) if dropout else None)
    eps = 1e-5 if activation in SMOOTH else 1e-6
    errors = gradient_errors(params, X, y, activation, masks, weight_decay, eps)
    Z, _ = utils.forward(params, X.copy(), activation, masks)
    rounding = abs(utils.cross_entropy(Z, y) + utils.l2_penalty(params, weight_decay)) \
        * np.finfo(np.float64).eps / 2 / eps  # of one finite difference
    arch = "-".join(str(n) for n in layers)
    title = (f"gradient check of {arch} ({activation}{', batch norm' if batch_norm else ''}"
             f"{', dropout' if dropout else ''}{', weight decay' if weight_decay else ''}): "
             f"backward against central finite differences (eps {eps:g}) on a float64 copy "
             f"{'-'.join(str(n) for n in small)}, {rows} random rows")
    header = f"relative error of each gradient (below {CHECK_TOLERANCE:g} is right)"
    lines = [title, f"  {'layer':<8}{'W shape':<10}{header}"]
    wrong, unresolved = [], []
    for l, (layer, row) in enumerate(zip(params, errors)):
        names = ("dW", "db") if len(row) == 2 else ("dW", "dgamma", "dbeta")
        cells, bad = [], []
        for name, p, (err, norm, numeric) in zip(names, layer.values(), row):
            floor = rounding * math.sqrt(p.size) / max(norm + numeric, 1e-300)
            if floor > CHECK_TOLERANCE / 4:  # a right backward could not pass: say so
                cells.append(f"{name} {err:.1e} (too small to check: {max(norm, numeric):.0e})")
                unresolved.append(l + 1)
            else:
                cells.append(f"{name} {err:.1e}")
                if not err < CHECK_TOLERANCE:
                    bad.append(name)
        shape = "x".join(str(n) for n in layer["W"].shape)
        lines.append(f"  {l + 1:<8}{shape:<10}{'  '.join(cells)}{'  WRONG' if bad else ''}")
        if bad:
            wrong.append((l, bad))
    if unresolved:
        named = sorted(set(unresolved))
        named = (f"{named[0]}-{named[-1]}" if len(named) > 2 and named[-1] - named[0] ==
                 len(named) - 1 else ", ".join(str(n) for n in named))
        lines.append(f"layer{'s' * (len(set(unresolved)) > 1)} {named}: gradients too small "
                     "(they vanish) for float64 finite differences to resolve; not counted")
    if not wrong:
        lines.append(f"every gradient checked agrees with finite differences to within "
                     f"{CHECK_TOLERANCE:g}: backward is right for this network")
        return lines, True
    l, bad = wrong[-1]
    below = " (the layers below inherit its error)" if l > 0 else ""
    lines.append(f"backward goes wrong at layer {l + 1}: its {' and '.join(bad)} disagree with "
                 f"finite differences{below}; look at what backward (or the derivative of "
                 f"the {activation if l < len(params) - 1 else 'loss'}) does there")
    return lines, False


# ----------------------------------------------------------------------------
# the whole network: its summary, and whether its training has diverged


def model_summary(layers, activation, init, batch_norm=False):
    """A table of the network, layer by layer, as Keras' model.summary() prints one.

    Per layer: the shape of W, its number of parameters (weights and biases,
    or with batch_norm weights, gammas and betas), its activation (with
    "+ BN" where batch normalisation comes first) and initialisation; then
    the total, as count_params counts it. Returns text.
    """
    pairs = list(itertools.pairwise(layers))
    shape_w = max(14, *(len(f"{a} x {b}") + 2 for a, b in pairs))  # wide enough for any
    count_w = max(12, len(f"{utils.count_params(layers, batch_norm):,}") + 2)
    rows = [f"  {'layer':<7}{'W shape':<{shape_w}}{'parameters':>{count_w}}  {'activation':<15}init"]
    for l, (n_in, n_out) in enumerate(pairs, start=1):
        last = l == len(layers) - 1
        normed = batch_norm and not last
        rows.append(f"  {l:<7}{f'{n_in} x {n_out}':<{shape_w}}"
                    f"{n_in * n_out + n_out * (1 + normed):>{count_w},}  "
                    f"{'softmax' if last else activation + (' + BN' if normed else ''):<15}{init}")
    rows.append(f"  {'total':<{7 + shape_w}}{utils.count_params(layers, batch_norm):>{count_w},}")
    return "\n".join(rows)


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
    if not all(np.isfinite(p).all() for layer in params for p in layer.values()):
        return "the weights became non-finite"
    if loss > 10 * untrained:
        return f"the loss {loss:.3g} is far above an untrained network's {untrained:.2f}"
    if history.get("train_loss") and loss > 100 * min(history["train_loss"]) > 0:
        return f"the loss grew from {min(history['train_loss']):.3g} to {loss:.3g}"
    return ""


# ----------------------------------------------------------------------------
# what a run says as it goes: its summary, each epoch's line, the diagnosis


def run_summary(c, name, n_train, n_val):
    """The lines a run starts with: its rows, its network (model_summary), its optimisation,
    and a warning for settings that will not act as a user expects on these rows."""
    init = c["INIT"] or utils.default_init(c["ACTIVATION"])
    lines = [f"run {name}: {n_train} train rows, {n_val} validation rows",
             model_summary(c["LAYERS"], c["ACTIVATION"], init, c["BATCH_NORM"]),
             (f"  {c['OPTIMISER']} optimiser, learning rate {c['LEARNING_RATE']} "
              f"({c['SCHEDULE']}), {c['EPOCHS']} epoch{'s' * (c['EPOCHS'] != 1)} of batches "
              f"of {c['BATCH_SIZE']}")]
    if c["BATCH_SIZE"] > n_train:
        lines.append(f"warning: BATCH_SIZE = {c['BATCH_SIZE']} is more than the {n_train} "
                     "training rows: each epoch is a single step over all of them")
    if c["PATIENCE"] and not n_val:
        lines.append("warning: PATIENCE needs validation rows to watch; with none it never "
                     "stops a run")
    return "\n".join(lines)


def chance(labels):
    """The accuracy of always answering the commonest class of these labels (int, (n,))."""
    return float(np.bincount(labels).max() / len(labels))


_SAID = {}  # id(history): the diagnosis printed after its first epoch, until its run's end


def print_diagnosis(tag, history, last=False):
    """Print what the layers' statistics say is wrong (history["diagnosis"]), if anything:
    after the first epoch, and with last=True at the end of a run of more than one epoch,
    but for the lines this process said after the first word for word (kept aside, not in
    the history, which a checkpoint holds as it was)."""
    epoch = history["layers"][-1]["epoch"] if history["layers"] else 0
    said = _SAID.pop(id(history), []) if last else []
    if epoch and (epoch == 1) != last:
        lines = [line for line in history.get("diagnosis") or [] if line not in said]
        for line in lines:
            print(f"{tag}after epoch {epoch}: {line}")
        if not last:
            _SAID[id(history)] = lines


def imbalance(y):
    """How many times the rows of the smallest class present the largest class has, when
    that is clearly more than 2 (beyond two standard deviations of counting noise, so
    a few hundred rows of balanced classes do not pass), else 0. y int labels (n,), or None: 0."""
    if y is None or not len(y):
        return 0
    counts = np.bincount(y)
    present = counts[counts > 0]
    if len(present) < 2:
        return 0
    big, small = present.max(), present.min()
    return big / small if big - 2 * np.sqrt(big) > 2 * (small + 2 * np.sqrt(small)) else 0


def still_at_chance(score, chance, y):
    """What to say of a network none of whose 3 epochs has learned (score, the best
    validation or training accuracy so far, the kept epoch's; chance, the commonest class's
    share; y, the validation labels or None): imbalanced classes first when they are
    (imbalance), then the learning rate, vanishing gradients, mismatched labels."""
    first = ("the classes are imbalanced, and the network may be answering the commonest "
             "class every time: give it balanced classes (fewer rows of the common ones, or "
             "more of the rare ones); else " if imbalance(y) else "")
    return (f"after 3 epochs no epoch has learned (the best reached {score:.2%}, the commonest "
            f"class is {chance:.2%}): {first}the learning rate may be far too high or too low, a deep "
            "sigmoid or tanh network may have vanishing gradients (try ACTIVATION=\"relu\"), "
            "or the labels may not match the pixels")


class Report:
    """A watcher of the training loop (main.notify) that prints each epoch's line.

    A full line (train and validation loss and accuracy, learning rate,
    seconds), or a compact one in COMPARE (tag set); the diagnosis after the
    first epoch; a note when the BLAS threads change; after three epochs, a
    word if no epoch so far has learned (the best is at chance: a third epoch back at
    chance after one that learned is not, since the run keeps that one).
    """

    def __init__(self, c, tag, n_val):
        self.c, self.tag, self.n_val, self.threads, self.chance = c, tag, n_val, None, 0.0
        self.labels = None

    def begin(self, run):
        self.threads, self.chance = run.get("threads"), run.get("chance", 0.0)
        self.labels = run.get("y_val")  # the classes' shares, for still_at_chance

    def epoch(self, history):
        h, tag = {k: history[k][-1] for k in ("epoch", "train_loss", "train_acc", "val_loss",
                                              "val_acc", "lr", "seconds")}, self.tag
        val = (f"val loss {h['val_loss']:.4f} acc {h['val_acc']:7.2%}" if self.n_val
               else "no validation rows")
        if tag:
            print(f"{tag}epoch {h['epoch']}/{self.c['EPOCHS']}  {val}  {h['seconds']:.1f}s",
                  flush=True)
        else:
            print(f"epoch {h['epoch']:3d}/{self.c['EPOCHS']}  train loss {h['train_loss']:.4f} "
                  f"acc {h['train_acc']:7.2%}  {val}  lr {h['lr']:<9.4g} {h['seconds']:5.1f}s",
                  flush=True)
        print_diagnosis(tag, history)
        if self.threads and self.threads.note:  # machine.BlasThreads lowered the threads
            print(f"{tag}{self.threads.note}")
        score = max(history["val_acc"] if self.n_val else history["train_acc"])
        if h["epoch"] == 3 and score <= self.chance + 0.01:  # the best epoch's: the kept one
            print(f"{tag}{still_at_chance(score, self.chance, self.labels)}")


def validate(result, params, stats, history, X_val, y_val, activation="relu"):
    """An epoch's validation loss and accuracy, and why training has diverged ("" if not).

    result -- train_epoch's dict; history -- the run's so far. Divergence is
    judged on the training loss first (diverged), then, when there are
    validation rows, on their loss; the rows are not scored after a
    diverged epoch. Returns (val_loss, val_acc, problem): NaN, NaN without
    validation rows.
    """
    n_classes = params[-1]["W"].shape[1]
    problem = diverged(result, params, history, n_classes)
    if problem or not len(X_val):
        return math.nan, math.nan, problem
    val_loss, val_acc = utils.evaluate(params, X_val, y_val, activation, stats=stats)
    return val_loss, val_acc, diverged({"loss": val_loss, "status": "ok"}, params, {}, n_classes)


def check_gradients_of(c, dropout):
    """--GRADCHECK: gradient_check of the network the settings c describe, printed; returns
    the exit status, 0 when backward is right, 1 when a gradient is wrong. dropout -- one
    rate per hidden layer, or None. The weight decay checked is the coupled one (adamw's is
    applied in update, not in the gradient)."""
    lines, ok = gradient_check(c["LAYERS"], c["ACTIVATION"], c["BATCH_NORM"], c["INIT"], dropout,
                               c["WEIGHT_DECAY"] * (c["OPTIMISER"] != "adamw"))
    print("\n".join(lines))
    return 0 if ok else 1
