"""Train the default network with one technique changed at a time; print a Markdown table.

    python benchmarks/techniques.py               # every row, about 10 minutes here
    python benchmarks/techniques.py --only adam   # the rows whose name contains 'adam'

Each row is one real `python main.py` run (a child process) with the
overrides shown; its test accuracy, best validation accuracy and training
seconds are read from the weights file it saves. Outputs go to a temporary
folder, so the project's runs/ and images/ are left alone. The README's
table of techniques is this script's output.
"""

import argparse
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from runner import run_main  # after the path is set

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


def main():
    """Run the rows asked for and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run only rows whose name contains this")
    args = parser.parse_args()
    print("| change from the default | overrides | test acc | best val acc | epochs run "
          "| training s | whole run s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for label, overrides in ROWS:
        if args.only.lower() not in label.lower():
            continue
        with tempfile.TemporaryDirectory() as folder:
            _, result, wall = run_main(overrides, folder)
        history = result["history"]
        print(f"| {label} | `{' '.join(overrides) or '(none)'}` | {result['test_accuracy']:.2%} "
              f"| {max(history['val_acc']):.2%} | {len(history['epoch'])} "
              f"| {result['train_seconds']:.1f} | {wall:.1f} |", flush=True)


if __name__ == "__main__":
    main()
