"""Deep networks with and without batch normalisation: the README's depth study.

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

import argparse
import itertools
import tempfile

from runner import run_main

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


def main():
    """Run the rows asked for and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run only rows whose name contains this")
    args = parser.parse_args()
    print("| hidden layers | activation | batch norm | test acc | best val acc | training s "
          "| first / last hidden layer's dW RMS before training |")
    print("| ---: | --- | --- | ---: | ---: | ---: | --- |")
    for name, overrides in rows():
        if args.only.lower() not in name.lower():
            continue
        with tempfile.TemporaryDirectory() as folder:
            _, result, _ = run_main(overrides, folder)
        depth, _, _, activation = name.split()[:4]
        history = result["history"]
        print(f"| {depth} | {activation} | {'yes' if '+ BN' in name else 'no'} "
              f"| {result['test_accuracy']:.2%} | {max(history['val_acc']):.2%} "
              f"| {result['train_seconds']:.1f} | {gradient_gap(history)} |", flush=True)


if __name__ == "__main__":
    main()
