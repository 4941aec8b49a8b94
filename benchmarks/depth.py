"""Deep networks with and without batch normalisation: docs/deep.md's depth study.

    python benchmarks/depth.py                 # 16 runs, about 10 minutes here
    python benchmarks/depth.py --only sigmoid  # the rows whose name contains 'sigmoid'

Each row is one real `python main.py` run (a child process, main.py's
default recipe otherwise) of 2, 4, 8 or 16 hidden layers of 100 units,
sigmoid or ReLU, with BATCH_NORM off or on. Outputs go to a temporary
folder; the table is printed as Markdown, one row per run: test and best
validation accuracy, training seconds, and, from the per-layer statistics
the run keeps in its history, how much smaller the first hidden layer's
weight gradients were than the last hidden layer's before training.
"""

import itertools

from runner import print_table, scores

DEPTHS = (2, 4, 8, 16)
ACTIVATIONS = ("sigmoid", "relu")


def rows():
    """(name, overrides) of every run of the study."""
    for depth, activation, batch_norm in itertools.product(DEPTHS, ACTIVATIONS, (False, True)):
        layers = [784] + [100] * depth + [10]
        name = f"{depth} x 100 {activation}{' + BN' if batch_norm else ''}"
        yield name, [f"--LAYERS={layers}".replace(" ", ""), f"--ACTIVATION={activation}",
                     f"--BATCH_NORM={batch_norm}"]


def gradient_gap(history):
    """The first hidden layer's gradient size over the last hidden layer's, before training,
    as text, from the statistics in the run's history (or '-' where there are none)."""
    stats = history.get("layers")
    if not stats:
        return "-"
    rms = stats[0]["dW_rms"]  # epoch 0: before the first step
    hidden = rms[:-1]
    return f"{hidden[0]:.2g} / {hidden[-1]:.2g} = {hidden[0] / hidden[-1]:.2g}"


def row(name, overrides, result, wall):
    """The table's cells for one run."""
    depth, _, _, activation = name.split()[:4]
    return [depth, activation, "yes" if "+ BN" in name else "no", *scores(result),
            f"{result['train_seconds']:.1f}", gradient_gap(result["history"])]


if __name__ == "__main__":
    print_table(__doc__.splitlines()[0],
                "| hidden layers | activation | batch norm | test acc | best val acc | training s "
                "| first / last hidden layer's dW RMS before training |\n"
                "| ---: | --- | --- | ---: | ---: | ---: | --- |", rows(), row)
