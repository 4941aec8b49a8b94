"""Every picture a run draws: learning curves, confusion matrix, mistakes, comparisons,
and what the network saw of a picture given to --PREDICT.

matplotlib is imported on first use, on its headless Agg backend, so the
trainer starts without it. Each picture is written atomically.
"""

import math
import os
import textwrap

import numpy as np

from runs import save_atomic
from utils import accuracy, confusion_matrix, softmax


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


def draw(path, plot, *args, **kwargs):
    """Draw one picture with plot(*args, path=path, ...); a failure is a one-line warning.

    Returns path, or None when the picture could not be drawn or written (a
    full disk, say): the run's weights are saved before any picture, so a
    picture that fails loses nothing else.
    """
    try:
        plot(*args, path=path, **kwargs)
        return path
    except (OSError, ValueError, RuntimeError) as e:
        print(f"warning: could not draw {path} ({getattr(e, 'strerror', None) or e})")
        return None


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


def plot_history(history, title, path, subtitle="", kept_epoch=0):
    """Plot train and validation loss and accuracy against epoch, side by side.

    The loss axis is logarithmic, so one blow-up does not flatten the rest;
    a dashed line marks kept_epoch, the epoch whose weights the run kept.
    """
    plt = _pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4.2))
    epochs = history["epoch"]
    for ax, key, label in ((ax_loss, "loss", "cross-entropy loss (log scale)"),
                           (ax_acc, "acc", "accuracy")):
        ax.plot(epochs, history[f"train_{key}"], "o-", ms=3, label="train")
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


def test_pictures(folder, suffix, title, X, y, Z):
    """Draw the confusion matrix and the most confident mistakes of labelled rows.

    X uint8 (n, n_pixels), y int (n,), Z the logits (n, k). The pictures go
    to folder/confusion<suffix>.png and folder/mistakes<suffix>.png; returns
    the paths drawn (None for one that failed).
    """
    pred = Z.argmax(axis=1)
    C = confusion_matrix(y, pred, Z.shape[1])
    title = f"{title} accuracy {accuracy(Z, y):.2%}"
    return [draw(os.path.join(folder, f"confusion{suffix}.png"), plot_confusion, C, title),
            draw(os.path.join(folder, f"mistakes{suffix}.png"), plot_mistakes, X, y,
                 softmax(Z), f"{title}: the most confident mistakes")]


def plot_compare(histories, path, title="", chance=0.1):
    """Draw the validation accuracy and loss of several runs on shared axes.

    histories -- a dict of {label: history}. The accuracy axis is zoomed on
    the runs that learned (best validation accuracy more than 10 points
    above `chance`), so good networks are not squeezed into a band at the
    top; runs below the axis say so in the legend, which sits under both
    panels. The loss axis is logarithmic.
    """
    plt = _pyplot()
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(11, 4 + 0.22 * len(histories)))
    learned = [h["val_acc"] for h in histories.values()
               if max(h["val_acc"], default=0) > chance + 0.1]
    tail = [v for accs in learned for v in accs[len(accs) // 10:]]  # past the first tenth
    low, top = (min(tail), max(tail)) if tail else (0.0, 1.0)
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


def plot_prediction(original, x, P, title, path):
    """Show what the network saw: the picture, the prepared input and the ten probabilities.

    original -- the picture as digit.read_image returns it: grey levels
                (h, w), or grey levels and alpha (h, w, 2), floats 0..1; a
                transparent picture is shown on a checkerboard
    x        -- the prepared input, uint8 (side * side,), light on dark
    P        -- the predicted probabilities, shape (k,)
    """
    plt = _pyplot()
    fig, (ax_pic, ax_in, ax_p) = plt.subplots(1, 3, figsize=(9.5, 3.2),
                                              gridspec_kw={"width_ratios": [1, 1, 1.5]})
    if original.ndim == 3:  # grey and alpha: over a checkerboard, as image editors show it
        h, w = original.shape[:2]
        square = max(4, max(h, w) // 16)
        yy, xx = np.mgrid[0:h, 0:w]
        board = np.where((yy // square + xx // square) % 2, 0.55, 0.75)
        alpha = original[..., 1]
        shown = original[..., 0] * alpha + board * (1 - alpha)
    else:
        shown = original
    ax_pic.imshow(shown, cmap="gray", vmin=0, vmax=1)
    ax_pic.set_title(f"the picture ({original.shape[1]}x{original.shape[0]})", fontsize=9)
    side = math.isqrt(len(x))
    ax_in.imshow(np.asarray(x).reshape(side, side), cmap="gray", vmin=0, vmax=255)
    ax_in.set_title(f"what the network saw ({side}x{side})", fontsize=9)
    for ax in (ax_pic, ax_in):
        ax.set_xticks([])
        ax.set_yticks([])
    k = len(P)
    best = int(np.argmax(P))
    ax_p.bar(range(k), P, color=["tab:blue" if i == best else "tab:gray" for i in range(k)])
    ax_p.set_xticks(range(k))
    ax_p.set_ylim(0, 1)
    ax_p.set_xlabel("class")
    ax_p.set_ylabel("probability")
    ax_p.set_title(f"{best}: {P[best]:.1%}", fontsize=9)
    ax_p.grid(axis="y", alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save_figure(fig, path, dpi=100)
