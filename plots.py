"""Every picture a run draws: learning curves, confusion matrix, mistakes, comparisons,
and what the network saw of a picture given to --PREDICT; and inside the network:
each layer's statistics, activations and first-layer weights.

matplotlib is imported on first use, on its headless Agg backend, so the
trainer starts without it. Each picture is written atomically.
"""

import functools
import math
import os
import textwrap
import warnings

import numpy as np

import data
import runs
from images import class_name, picture_of, shape_of
from runs import save_atomic
from stopping import signals_held
from utils import accuracy, confusion_matrix, softmax


def _pyplot():
    """matplotlib.pyplot on the headless Agg backend (its first import with Ctrl-C held back,
    stopping.signals_held: an import cut short by one can abort the interpreter)."""
    with signals_held():
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    return plt


def _save_figure(fig, path, dpi=110):
    """Save a figure as PNG atomically and close it."""
    plt = _pyplot()
    save_atomic(path, lambda f: fig.savefig(f, format="png", dpi=dpi))
    plt.close(fig)


def draw(path, plot, *args, **kwargs):
    """Draw one picture with plot(*args, path=path, ...); a failure is a one-line warning.

    Returns path, or None when the picture could not be drawn or written (a
    full disk, or a case a picture function does not handle): the run's
    weights are saved before any picture, so a picture that fails loses
    nothing else, and the rest of the run goes on.
    """
    args = [_shown(a) if isinstance(a, str) else a for a in args]  # the titles
    kwargs = {k: _shown(v) if isinstance(v, str) else v for k, v in kwargs.items()}
    try:
        with warnings.catch_warnings():  # a glyph _shown missed is left blank
            warnings.filterwarnings("ignore", r"Glyph .* missing from", UserWarning)
            plot(*args, path=path, **kwargs)
        return path
    except Exception as e:  # noqa: BLE001 -- a picture is never worth the run's other outputs
        why = getattr(e, "strerror", None) or f"{type(e).__name__}: {e}"
        print(f"warning: could not draw {path} ({str(why)[:200]})")
        return None


@functools.cache
def _font_characters():
    """The code points matplotlib's default font can draw."""
    with signals_held():
        from matplotlib import font_manager, ft2font
    font = ft2font.FT2Font(font_manager.findfont(font_manager.FontProperties()))
    return frozenset(font.get_charmap())


def _shown(text):
    """text as a picture can show it: the bytes of a file name that are not UTF-8 (held as
    surrogates) and the characters the font lacks (数字 in DejaVu Sans) as Python's
    backslash escapes, \\xff and \\u6570, so every name stays readable and distinct."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    drawn = _font_characters()
    return "".join(ch if ch in "\n\t" or ord(ch) in drawn else ch.encode("unicode_escape")
                   .decode("ascii") for ch in text)


def _title(fig, title, subtitle=""):
    """A figure's title, with a smaller wrapped line of details under it."""
    if subtitle:
        title += "\n" + textwrap.fill(subtitle, 110)
    fig.suptitle(title, fontsize=10)


def _log_axis(ax):
    """A logarithmic y axis labelled 0.05, 0.1, 0.2, 0.5, 1, 2 ... rather than in powers of ten."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _epoch_axis(ax):
    """Whole-number epoch ticks on the x axis, however few epochs there are."""
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")


def plot_history(history, title, path, subtitle="", kept_epoch=0, augmented=False):
    """Plot train and validation loss and accuracy against epoch, side by side.

    The loss axis is logarithmic, so one blow-up does not flatten the rest;
    a dashed line marks kept_epoch, the epoch whose weights the run kept.
    augmented -- the training figures were measured on augmented batches
    (shifted, rotated, scaled: harder than the rows themselves), which the
    legend says, since they then sit below the validation figures early on.
    """
    plt = _pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4.2))
    epochs = history["epoch"]
    for ax, key, label in ((ax_loss, "loss", "cross-entropy loss (log scale)"),
                           (ax_acc, "acc", "accuracy")):
        ax.plot(epochs, history[f"train_{key}"], "o-", ms=3,
                label="train (augmented batches)" if augmented else "train")
        if not all(math.isnan(v) for v in history[f"val_{key}"]):
            ax.plot(epochs, history[f"val_{key}"], "o-", ms=3, label="validation")
        if kept_epoch:
            ax.axvline(kept_epoch, color="grey", ls="--", lw=1, label=f"kept: epoch {kept_epoch}")
        _epoch_axis(ax)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    _log_axis(ax_loss)
    _title(fig, title, subtitle)
    fig.tight_layout()
    _save_figure(fig, path)


def plot_confusion(C, title, path, classes=None):
    """Draw a confusion matrix of counts, with each class's accuracy on the y axis; classes --
    the class names to show (None: their numbers)."""
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
    if classes:
        ax.set_xticklabels([class_name(classes, i) for i in range(k)], fontsize=7,
                           rotation=90 if max(map(len, classes)) > 2 else 0)
    ax.set_yticklabels([f"{class_name(classes, i)} ({a:.1%})" if C[i].sum()
                        else f"{class_name(classes, i)} (no rows)"
                        for i, a in enumerate(per_class)], fontsize=7 if k > 12 else None)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label (accuracy of the class)")
    ax.set_title(textwrap.fill(title, 70), fontsize=9)
    fig.tight_layout()
    _save_figure(fig, path)


def plot_mistakes(X, y, P, title, path, count=24, classes=None):
    """Draw the wrongly predicted images with the most confident wrong answers.

    X the uint8 images (n, n_pixels), square grey or colour (images.shape_of),
    y the labels, P the predicted probabilities (n, k), classes the class
    names (None: their numbers).
    Each panel shows the true label, the predicted one and their probabilities.
    The panels are one mosaic on one axis (drawn in a fraction of the time
    24 axes take). Returns the indices of the rows shown.
    """
    plt = _pyplot()
    pred = P.argmax(axis=1)
    wrong = np.flatnonzero(pred != y)
    shown = wrong[np.argsort(-P[wrong, pred[wrong]], kind="stable")][:count]
    side, channels = shape_of(X.shape[1])
    cols = 8
    rows = max(1, math.ceil(len(shown) / cols))
    # each picture shown 28 units wide, whatever its side, with room for two lines of text
    zoom = max(1, round(28 / side))
    big = side * zoom
    cell_w, cell_h = big + 4, big + 14
    mosaic = np.full((rows * cell_h, cols * cell_w, channels), 255 if channels == 3 else 0,
                     dtype=np.uint8)
    fig, ax = plt.subplots(figsize=(cols * 1.3, rows * 1.55 + 0.3))
    for n, i in enumerate(shown):
        top, left = (n // cols) * cell_h + 12, (n % cols) * cell_w + 2
        picture = picture_of(X[i]).reshape(side, side, channels)
        mosaic[top:top + big, left:left + big] = picture.repeat(zoom, 0).repeat(zoom, 1)
        ax.text(left + big / 2, top - 1, f"true {class_name(classes, y[i])} ({P[i, y[i]]:.2f})\n"
                f"said {class_name(classes, pred[i])} ({P[i, pred[i]]:.2f})", ha="center",
                va="bottom", fontsize=7)
    if channels == 3:
        ax.imshow(mosaic, interpolation="nearest")
    else:
        ax.imshow(mosaic[..., 0], cmap="gray_r", vmin=0, vmax=255, interpolation="nearest")
    ax.axis("off")
    if not len(shown):
        ax.text(cols * cell_w / 2, cell_h / 2, "no mistakes: every row was read right",
                ha="center", va="center", fontsize=10)
    fig.suptitle(textwrap.fill(title, 110), fontsize=9)
    fig.tight_layout()
    _save_figure(fig, path)
    return shown


def test_pictures(folder, suffix, title, X, y, Z, classes=None):
    """Draw the confusion matrix and the most confident mistakes of labelled rows.

    X uint8 (n, n_pixels), y int (n,), Z the logits (n, k), classes the class
    names (None: their numbers). The pictures go
    to folder/confusion<suffix>.png and folder/mistakes<suffix>.png; returns
    the paths drawn (None for one that failed).
    """
    pred = Z.argmax(axis=1)
    C = confusion_matrix(y, pred, Z.shape[1])
    title = f"{title} accuracy {accuracy(Z, y):.2%}"
    written = [draw(os.path.join(folder, f"confusion{suffix}.png"), plot_confusion, C, title,
                    classes=classes)]
    if shape_of(X.shape[1]) is None:
        print(f"mistakes{suffix}.png not drawn: rows of {X.shape[1]} pixels are not square images")
        return written
    return written + [draw(os.path.join(folder, f"mistakes{suffix}.png"), plot_mistakes, X, y,
                           softmax(Z), f"{title}: the most confident mistakes", classes=classes)]


def plot_contact_sheet(X, names, answers, title, path, count=64):
    """Draw what the network saw of many pictures, each under its file name and answer.

    X uint8 (n, n_pixels) the rows as the network took them (square grey or
    colour); names and answers, text per row. The first `count` are drawn.
    """
    plt = _pyplot()
    shown = min(count, len(X))
    cols = min(8, shown)
    rows = max(1, math.ceil(shown / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.3, rows * 1.6 + 0.4), squeeze=False)
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k < shown:
            picture = picture_of(X[k])
            ax.imshow(picture, cmap=None if picture.ndim == 3 else "gray", vmin=0, vmax=255,
                      interpolation="nearest")
            name = os.path.basename(names[k])
            ax.set_title(f"{name[:14]}\n{answers[k]}", fontsize=7)
    fig.suptitle(textwrap.fill(title + (f" (the first {count} of {len(X)})" if len(X) > count
                                        else ""), 110), fontsize=9)
    fig.tight_layout()
    _save_figure(fig, path, dpi=90)


def plot_compare(histories, path, title="", chance=0.1):
    """Draw the validation accuracy and loss of several runs on shared axes.

    histories -- a dict of {label: history}. The accuracy axis is zoomed on
    the top of the runs that learned (best validation accuracy more than 10
    points above `chance`): the epochs of each within 5 points of its best,
    so good networks are not squeezed into a band at the top by their
    first epochs; runs below the axis say so in the legend, which sits
    under both panels. The loss axis is logarithmic.
    """
    plt = _pyplot()
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(11, 4 + 0.22 * len(histories)))
    learned = [h["val_acc"] for h in histories.values()
               if max(h["val_acc"], default=0) > chance + 0.1]
    near = [v for accs in learned for v in accs if v >= max(accs) - 0.05]  # each one's top
    low, top = (min(near), max(near)) if near else (0.0, 1.0)
    low, top = max(0.0, low - 0.1 * (top - low) - 0.002), min(1.0, top + 0.15 * (top - low) + 0.002)
    for label, h in histories.items():
        below = max(h["val_acc"], default=0) < low
        ax_acc.plot(h["epoch"], h["val_acc"], "o-", ms=3,
                    label=f"{label} (below the accuracy axis)" if below else label)
        ax_loss.plot(h["epoch"], h["val_loss"], "o-", ms=3)
    ax_acc.set_ylim(low, top)
    _log_axis(ax_loss)
    for ax, name in ((ax_acc, "validation accuracy"), (ax_loss, "validation loss (log scale)")):
        _epoch_axis(ax)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    _title(fig, title or "compared (same data and seed)")
    fig.legend(loc="lower center", ncol=1 if len(histories) > 4 else 2, fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0.06 * len(histories) / (1 if len(histories) > 4 else 2) + 0.02,
                           1, 1))
    _save_figure(fig, path)


def plot_prediction(original, x, P, title, path, size=None, classes=None):
    """Show what the network saw: the picture, the prepared input and the ten probabilities.

    original -- the picture as digit.read_image returns it: grey levels
                (h, w), or grey levels and alpha (h, w, 2), floats 0..1; a
                transparent picture is shown on a checkerboard
    x        -- the prepared input, uint8 (side * side,), light on dark
    P        -- the predicted probabilities, shape (k,)
    classes  -- the class names (None: their numbers); a colour picture is
                original (h, w, 3) and x (3 * side * side,) channels last
    size     -- the picture's (width, height) in its file (read_image
                shrinks a large one), for the title; None: original's
    """
    plt = _pyplot()
    fig, (ax_pic, ax_in, ax_p) = plt.subplots(1, 3, figsize=(9.5, 3.2),
                                              gridspec_kw={"width_ratios": [1, 1, 1.5]})
    if original.ndim == 3 and original.shape[2] == 2:  # grey and alpha: over a checkerboard, as image editors show it
        h, w = original.shape[:2]
        square = max(4, max(h, w) // 16)
        yy, xx = np.mgrid[0:h, 0:w]
        board = np.where((yy // square + xx // square) % 2, 0.55, 0.75)
        alpha = original[..., 1]
        shown = original[..., 0] * alpha + board * (1 - alpha)
    else:
        shown = original
    ax_pic.imshow(shown, cmap="gray", vmin=0, vmax=1)
    w, h = size or (original.shape[1], original.shape[0])
    ax_pic.set_title(f"the picture ({w}x{h})", fontsize=9)
    seen = picture_of(x)
    side = len(seen)
    ax_in.imshow(seen, cmap="gray", vmin=0, vmax=255)
    ax_in.set_title(f"what the network saw ({side}x{side})", fontsize=9)
    for ax in (ax_pic, ax_in):
        ax.set_xticks([])
        ax.set_yticks([])
    k = len(P)
    best = int(np.argmax(P))
    ax_p.bar(range(k), P, color=["tab:blue" if i == best else "tab:gray" for i in range(k)])
    ax_p.set_xticks(range(k))
    if classes:
        ax_p.set_xticklabels([class_name(classes, i) for i in range(k)], fontsize=7,
                             rotation=90 if max(map(len, classes)) > 2 else 0)
    ax_p.set_ylim(0, 1)
    ax_p.set_xlabel("class")
    ax_p.set_ylabel("probability")
    ax_p.set_title(f"{class_name(classes, best)}: {P[best]:.1%}", fontsize=9)
    ax_p.grid(axis="y", alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save_figure(fig, path, dpi=100)


# ----------------------------------------------------------------------------
# inside the network: the per-layer statistics of diagnostics.layer_stats


def _layer_label(l, n_layers):
    """'layer 3', or 'layer 4 (output)' for the last."""
    return f"layer {l + 1}" + (" (output)" if l == n_layers - 1 else "")


def _series(records, key, l):
    """Layer l's figure `key` across the records, NaN where it is missing or not positive
    (a logarithmic axis leaves those out)."""
    values = [r[key][l] if r[key] is not None and r[key][l] is not None else math.nan
              for r in records]
    return [v if v > 0 else math.nan for v in values]


def plot_layers(records, title, path, subtitle=""):
    """Draw each layer's figures across the epochs, from history["layers"]: four panels.

    The size of its weight gradient (RMS of dW on the probe, log scale: a
    first layer far below the last is the vanishing gradient), the
    update-to-weight ratio of one step (log scale, with Karpathy's healthy
    1e-3), how far each epoch moved the weights (||W_after - W_before|| /
    ||W_before||), and the share of dead units (ReLU) or of saturated
    activations (sigmoid, tanh) of each hidden layer, or the spread of its
    activations for other activations. The layers go from dark (the first)
    to light (the output). Epoch 0 is before training.
    """
    plt = _pyplot()
    from matplotlib.ticker import NullFormatter
    fig, axes = plt.subplots(2, 2, figsize=(9.8, 6.9))
    epochs = [r["epoch"] for r in records]
    n_layers = len(records[0]["dW_rms"])
    colours = plt.cm.viridis(np.linspace(0, 0.85, n_layers))
    (ax_grad, ax_step), (ax_update, ax_share) = axes
    for l in range(n_layers):
        style = {"color": colours[l], "ms": 3, "label": _layer_label(l, n_layers)}
        ax_grad.plot(epochs, _series(records, "dW_rms", l), "o-", **style)
        ax_step.plot(epochs, _series(records, "step", l), "o-", **style)
        ax_update.plot(epochs, _series(records, "update", l), "o-", **style)
    ax_step.axhline(1e-3, color="grey", ls="--", lw=1, label="1e-3: a healthy step")
    _schedule_ends(ax_step, records, n_layers)
    share = ("dead", "share of dead units (never active on the probe)")
    if records[-1]["saturated"] is not None:
        share = ("saturated", "share of saturated activations")
    elif records[-1]["dead"] is None:
        share = ("act_std", "standard deviation of the activations")
    for l in range(n_layers - 1):
        values = [r[share[0]][l] if r[share[0]] is not None else math.nan for r in records]
        ax_share.plot(epochs, values, "o-", color=colours[l], ms=3,
                      label=_layer_label(l, n_layers))
    if share[0] != "act_std":
        ax_share.axhline(0.5, color="grey", ls=":", lw=1, label="half the layer")
        ax_share.set_ylim(-0.03, 1.03)
    for ax, name in ((ax_grad, "gradient size: RMS of dW (log scale)"),
                     (ax_step, "one step / the weights (log scale;\nfollows the learning rate)"),
                     (ax_update, ("||W after - W before|| / ||W before||,\n"
                                 "over each epoch (log scale)")),
                     (ax_share, share[1])):
        if ax is not ax_share:
            ax.set_yscale("log")
            low, high = ax.get_ylim()
            if high > 100 * low:  # labels at powers of ten only: these figures span many
                ax.yaxis.set_minor_formatter(NullFormatter())
            else:
                _log_axis(ax)
        _epoch_axis(ax)
        ax.set_ylabel(name, fontsize=9)
        ax.grid(alpha=0.3)
    ax_grad.legend(fontsize=7, ncol=2 if n_layers > 6 else 1)
    ax_step.legend(handles=[line for line in ax_step.get_lines() if line.get_label()
                            .startswith(("1e-3", "below"))], fontsize=7, loc="best")
    if share[0] != "act_std":
        ax_share.legend(handles=ax_share.get_lines()[-1:], fontsize=7)
    _title(fig, title, subtitle)
    title_lines = fig._suptitle.get_text().count("\n") + 1
    # a fixed layout: tight_layout measured every tick label and took twice as long
    fig.subplots_adjust(left=0.085, right=0.985, bottom=0.065, hspace=0.3, wspace=0.26,
                        top=1 - (0.3 + 0.19 * title_lines) / 6.9)
    _save_figure(fig, path, dpi=100)


def _schedule_ends(ax, records, n_layers):
    """Fit the step panel's axis to the epochs trained at a tenth of the peak learning rate or
    more, and mark the others that fall below it (a warm-up's start, a cosine schedule's
    end, where the rate nears 0 and so does every step) as hollow triangles at the axis'
    foot, which the legend explains (with the last rate when it is the schedule's end), so
    that a plunge by design is not read as a fault."""
    rates = [r.get("lr", math.nan) for r in records]
    peak = np.nanmax([math.nan, *rates])
    slow = [bool(rate < 0.1 * peak) for rate in rates]
    steps = [_series(records, "step", l) for l in range(n_layers)]
    kept = [v for series in steps for v, s in zip(series, slow) if not s]
    bottom = np.nanmin([1e-3, *kept]) / 3
    ax.set_ylim(bottom=bottom)
    off = [(i, series[i]) for series in steps for i in range(len(records))
           if slow[i] and not series[i] >= bottom]
    if off:
        end = (f" (the schedule's end: {rates[-1]:.2g})" if slow[-1] and len(records) > 1
               else "")
        ax.plot([records[i]["epoch"] for i, _ in off], [bottom * 1.25] * len(off), "v",
                mfc="none", color="grey", ms=6,
                label=f"below the axis: steps at a rate under\na tenth of its peak{end}")


def _record_name(record):
    """'before training' for the record of epoch 0, else 'after epoch N'."""
    return "before training" if record["epoch"] == 0 else f"after epoch {record['epoch']}"


def plot_activations(records, title, path, subtitle="", limits=None):
    """Draw the distribution of each hidden layer's activations, first and last record.

    One panel per hidden layer: histograms of its activations on the probe
    before training and at the last epoch, as a density (the share of all
    activations per 1.0 of activation: the two histograms' bins differ).
    Activations exactly 0 (ReLU's inactive units) are left out of the bars
    and given as a share in the legend, with the mean, the standard
    deviation and the share saturated or dead; a layer whose every
    activation is 0 (every unit dead) is a thick line at 0, and its panel's
    title says so. The legends sit under their panels, off the bars. limits -- the
    activation's range, (0, 1) for the sigmoid, (-1, 1) for tanh, shown
    whole so that saturation shows; None fits the axis to the values.
    """
    plt = _pyplot()
    first, last = records[0], records[-1]
    hidden = len(first["hist"])
    cols = min(hidden, 4)
    rows = math.ceil(hidden / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 3.2 * rows + 0.9), squeeze=False)
    for ax in axes.ravel()[hidden:]:
        ax.axis("off")
    for l, ax in enumerate(axes.ravel()[:hidden]):
        for record, colour in ((first, "C0"), (last, "C1")):
            h = record["hist"][l]
            counts = np.asarray(h["counts"], dtype=float)
            total = counts.sum() / (1 - h["zero"]) if h["zero"] < 1 else 1.0
            edges = np.linspace(h["lo"], max(h["hi"], h["lo"] + 1e-6), len(counts) + 1)
            notes = [f"mean {record['act_mean'][l]:.2f}", f"std {record['act_std'][l]:.2f}"]
            if h["zero"] >= 0.005:
                notes.append(f"{h['zero']:.0%} at 0")
            for key, word in (("saturated", "saturated"), ("dead", "units dead")):
                if record[key] is not None and record[key][l] >= 0.005:
                    notes.append(f"{record[key][l]:.0%} {word}")
            label = f"{_record_name(record)}:\n" + ", ".join(notes)
            if h["zero"] >= 1:  # all at 0: no bars; a thick line where every value is
                ax.axvline(0, color=colour, lw=4, alpha=0.7, label=label)
                continue
            density = counts / max(total, 1) / (edges[1] - edges[0])  # the bins differ
            ax.stairs(density, edges, color=colour, fill=True, alpha=0.45, label=label)
        dead = last["hist"][l]["zero"] >= 1
        ax.set_title(f"layer {l + 1}" + (": every unit dead (all at 0)" if dead else ""),
                     fontsize=9, color="firebrick" if dead else "black")
        if limits:
            ax.set_xlim(*limits)
        ax.set_xlabel("activation", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    axes[0, 0].set_ylabel("density: share of the\nactivations per 1.0", fontsize=8)
    _title(fig, title, subtitle)
    fig.tight_layout()
    _save_figure(fig, path, dpi=100)


def plot_weights(W, title, path, count=64):
    """Draw the first layer's incoming weights, one square image per unit, in a grid.

    W -- (n_in, n_out) with n_in = side * side, the pixels in row order.
    The first `count` units are drawn; each unit's weights are divided by
    their largest absolute value, so every unit shows its own pattern on
    a diverging colour map centred on 0 (red where ink raises the unit's
    input, blue where it lowers it). Raises ValueError if n_in is not square.
    """
    n_in, n_out = W.shape
    if shape_of(n_in) is None:
        raise ValueError(f"the first layer takes {n_in} inputs, not a square image")
    side, channels = shape_of(n_in)
    plt = _pyplot()
    shown = min(count, n_out)
    cols = min(8, shown)
    rows = math.ceil(shown / cols)
    tiles = np.asarray(W[:, :shown], dtype=np.float64).T.reshape(shown, side, side, channels)
    tiles = tiles.sum(axis=3)  # colour: a pixel's three weights summed
    tiles = tiles / np.maximum(np.abs(tiles).max(axis=(1, 2), keepdims=True), 1e-12)
    mosaic = np.full((rows * (side + 1) - 1, cols * (side + 1) - 1), np.nan)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, cols)
        mosaic[r * (side + 1):r * (side + 1) + side, c * (side + 1):c * (side + 1) + side] = tile
    cmap = plt.get_cmap("RdBu_r", 21).with_extremes(bad="white")  # 21 shades: a small PNG
    fig, ax = plt.subplots(figsize=(0.62 * cols + 1.3, 0.62 * rows + 0.8))
    image = ax.imshow(mosaic, cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
    ax.axis("off")
    bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    bar.set_label("weight / the unit's largest |weight|", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    ax.set_title(textwrap.fill(title, 70), fontsize=9)
    fig.tight_layout()
    _save_figure(fig, path, dpi=100)


ACTIVATION_RANGES = {"sigmoid": (0, 1), "tanh": (-1, 1)}


def inside_pictures(folder, name, records, W, activation, subtitle="", kept_epoch=0):
    """Draw layers.png, activations.png and weights.png in a run's folder; return their paths.

    records -- history["layers"] (diagnostics.layer_stats); W -- the kept
    first layer's weights, (n_in, n_out); activation -- the hidden layers'.
    activations.png needs a hidden layer and weights.png square images
    (n_in = side * side, 784 for MNIST): without, each is skipped with a
    line. A picture that fails is a warning and None (see draw).
    """
    written = [draw(os.path.join(folder, "layers.png"), plot_layers, records,
                    f"{name}: inside, layer by layer (on {records[-1]['rows']} probe rows)",
                    subtitle=subtitle)]
    if records[0]["hist"]:
        written.append(draw(os.path.join(folder, "activations.png"), plot_activations, records,
                            f"{name}: each hidden layer's activations", subtitle=subtitle,
                            limits=ACTIVATION_RANGES.get(activation)))
    else:
        print("activations.png not drawn: the network has no hidden layer")
    if shape_of(W.shape[0]) is None:
        print(f"weights.png not drawn: the first layer takes {W.shape[0]} inputs, "
              "not a square image")
        return written
    side, channels = shape_of(W.shape[0])
    kept = f", epoch {kept_epoch}" if kept_epoch else ""
    written.append(draw(os.path.join(folder, "weights.png"), plot_weights, W,
                        f"{name}: first layer's incoming weights ({min(64, W.shape[1])} of "
                        f"{W.shape[1]} units{kept}), each as a {side}x{side} image"
                        + (" (a pixel's three colours summed)" if channels == 3 else "")))
    return written


def run_pictures(folder, c, result, details, X_test, y_test, Z):
    """Every picture of a trained run, in its folder; return their paths (None where one failed).

    curves.png (learning curves) and the pictures of inside the network
    (inside_pictures) when an epoch finished; confusion.png and mistakes.png
    (test_pictures) when the test rows have labels. details -- the settings
    that differ from the defaults, for subtitles; Z -- the test rows' logits.
    """
    written = []
    name = c["NAME"] or runs.arch_name(c["LAYERS"])
    if result["history"]["epoch"]:
        written.append(draw(os.path.join(folder, "curves.png"), plot_history, result["history"],
                            f"{name}: learning curves", subtitle=details,
                            kept_epoch=result["best_epoch"],
                            augmented=bool(data.augmentation(c))))
        written += inside_pictures(folder, name, result["history"]["layers"],
                                   result["params"][0]["W"], c["ACTIVATION"], details,
                                   result["best_epoch"])
    if y_test is not None:
        written += test_pictures(folder, "", f"{os.path.basename(folder)}: test", X_test, y_test,
                                 Z, result.get("classes"))
    return written


def write_comparison(c, labels, results, defaults):
    """Draw and tabulate the networks of COMPARE together, in a folder of the comparison
    (runs.compare_folder): compare.md, the table printed too, and compare.png."""
    folder = runs.compare_folder(c, defaults)
    table = runs.compare_table(labels, results)
    print(table, end="")
    path = os.path.join(folder, "compare.md")
    runs.save_atomic(path, lambda f: f.write(table.encode()))
    shared = ", ".join(runs.shared_differences(c, defaults))  # not what one entry changes
    picture = draw(os.path.join(folder, "compare.png"), plot_compare,
                   {label: r["history"] for label, r in zip(labels, results)},
                   title=f"compared, all with {shared}" if shared else
                   "compared, all else the default settings", chance=results[0]["chance"])
    print("wrote:\n" + "\n".join(f"  {p}" for p in (path, picture) if p))
