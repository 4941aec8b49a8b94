"""Train the default network with one technique changed at a time; print a Markdown table.

    python benchmarks/techniques.py               # every row, about 10 minutes here
    python benchmarks/techniques.py --only adam   # the rows whose name contains 'adam'

Each row is one real `python main.py` run (a child process) with the
overrides shown; its test accuracy, best validation accuracy and training
seconds are read from the weights file it saves. Outputs go to a temporary
folder, so the project's runs/ and images/ are left alone. The table of
docs/techniques.md is this script's output.
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from runner import print_table, scores  # after the path is set

ROWS = [
    ("default (shift 1 px, momentum, cosine)", []),
    ("no augmentation", ["--MAX_SHIFT=0"]),
    ("plain SGD", ["--OPTIMISER=sgd"]),
    ("Nesterov momentum", ["--OPTIMISER=nesterov"]),
    ("Adam, lr 1e-3", ["--OPTIMISER=adam", "--LEARNING_RATE=1e-3"]),
    ("AdamW, lr 1e-3, decay 0.05", ["--OPTIMISER=adamw", "--LEARNING_RATE=1e-3",
                                    "--WEIGHT_DECAY=0.05"]),
    ("constant learning rate", ["--SCHEDULE=constant"]),
    ("step schedule (x0.1 every 8 epochs)", ["--SCHEDULE=step", "--STEP_EPOCHS=8"]),
    ("warm-up of 1 epoch", ["--WARMUP_EPOCHS=1.0"]),
    ("L2 weight decay 5e-4", ["--WEIGHT_DECAY=5e-4"]),
    ("dropout 0.2", ["--DROPOUT=0.2"]),
    ("max-norm 3", ["--MAX_NORM=3.0"]),
    ("leaky ReLU", ["--ACTIVATION=leaky_relu"]),
    ("tanh (Glorot init)", ["--ACTIVATION=tanh"]),
    ("sigmoid (Glorot init)", ["--ACTIVATION=sigmoid"]),
    ("Glorot init with ReLU", ["--INIT=glorot"]),
    ("early stopping, patience 3", ["--PATIENCE=3"]),
    ("rotations 10 deg and scalings 10%", ["--MAX_ROTATE=10.0", "--MAX_SCALE=0.1"]),
    ("[784, 10, 10]", ["--LAYERS=[784,10,10]"]),
]


def row(label, overrides, result, wall):
    """The table's cells for one run."""
    return [label, f"`{' '.join(overrides) or '(none)'}`", *scores(result),
            str(len(result["history"]["epoch"])), f"{result['train_seconds']:.1f}", f"{wall:.1f}"]


if __name__ == "__main__":
    print_table(__doc__.splitlines()[0],
                "| change from the default | overrides | test acc | best val acc | epochs run "
                "| training s | whole run s |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |",
                ROWS, row)
