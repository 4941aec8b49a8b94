"""Every picture a run draws: learning curves, confusion matrix, mistakes, comparisons,
and what the network saw of a picture given to --PREDICT.

matplotlib is imported on first use, on its headless Agg backend, so the
trainer starts without it. Each picture is written atomically.
"""

import math

import numpy as np

from runs import save_atomic


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
