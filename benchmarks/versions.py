"""The default training epoch of utils.py as it is now against utils.py at an earlier commit.

    python benchmarks/versions.py                     # against the commit before the last
    python benchmarks/versions.py --rev 1daf008 --rounds 7 --rows 20000

Run from the project root, in a git checkout. Both versions' utils.train_epoch
train main.py's default network (784-256-128-64-10, batch 128, momentum,
cosine, 1-pixel shifts) from the same starting weights on the same rows of
train.csv, with the BLAS threads fixed; the epochs are interleaved round by
round (bench.time_interleaved), so a burst of load from elsewhere on this
shared machine falls on both alike. It prints each side's median seconds
per epoch, the ratio of medians (old / now), the range of the per-round
ratios, and whether the two versions' weights agree to the last bit after
the same epochs (they must, for a change that only reorganises the code).
"""

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import bench  # these after the path is set

import augment
import data
import machine
import utils


def module_at(rev, name="utils"):
    """The module name.py as it was at git revision rev, imported under another name."""
    text = subprocess.run(["git", "show", f"{rev}:{name}.py"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout
    folder = tempfile.mkdtemp(prefix="versions-")
    path = os.path.join(folder, f"{name}_at_{rev}.py")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    spec = importlib.util.spec_from_file_location(f"{name}_at_{rev}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def arrays(params):
    """Every array of params, in order, whichever form a layer has (a tuple or a dict)."""
    return [a for layer in params for a in (layer.values() if isinstance(layer, dict) else layer)]


def epoch_of(module, X, y, seed):
    """A function running one epoch of module.train_epoch as main.py's defaults train."""
    rng = np.random.default_rng(seed)
    params = module.init_params([784, 256, 128, 64, 10], rng, "he")
    state = module.init_state(params, "momentum")
    steps = -(-len(X) // 128)

    def lr_at(step):
        return module.learning_rate(step, 20 * steps, 0.05, "cosine")

    shifts = augment.augmentation({"MAX_SHIFT": 1, "MAX_ROTATE": 0.0, "MAX_SCALE": 0.0})

    def epoch():
        return module.train_epoch(params, state, X, y, 128, rng, lr_at, shifts)["status"]

    return epoch, params


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rev", default="HEAD~1", help="the earlier commit (default HEAD~1)")
    parser.add_argument("--rounds", type=int, default=5, help="timed epochs of each side")
    parser.add_argument("--rows", type=int, default=20000, help="rows of train.csv to train on")
    parser.add_argument("--threads", type=int, default=2, help="BLAS threads for both")
    args = parser.parse_args(argv)
    X, y = data.load_csv(os.path.join(ROOT, "train.csv"), 9)
    X, y = np.ascontiguousarray(X[:args.rows]), y[:args.rows]
    old = module_at(args.rev)
    sides = {f"utils.py at {args.rev}": epoch_of(old, X, y, 0),
             "utils.py now": epoch_of(utils, X, y, 0)}
    threads = machine.BlasThreads(args.threads)
    threads.begin()
    try:
        timed = bench.time_interleaved({k: f for k, (f, _) in sides.items()}, args.rounds, 1)
    finally:
        threads.end()
    (old_name, (old_s, _)), (new_name, (new_s, _)) = timed.items()
    ratios = [a / b for a, b in zip(old_s, new_s)]
    same = all(np.array_equal(a, b) for a, b in zip(arrays(sides[old_name][1]),
                                                    arrays(sides[new_name][1])))
    print(f"{len(X)} rows, {args.threads} BLAS threads, {args.rounds} rounds after a warm-up "
          f"epoch, interleaved")
    for name, seconds in ((old_name, old_s), (new_name, new_s)):
        print(f"  {name:<24} median {statistics.median(seconds):.3f} s per epoch "
              f"(min {min(seconds):.3f}, max {max(seconds):.3f})")
    print(f"  old / now: {statistics.median(old_s) / statistics.median(new_s):.3f} "
          f"(per round {min(ratios):.3f}-{max(ratios):.3f})")
    print(f"  weights after {args.rounds + 1} epochs each: "
          f"{'identical to the last bit' if same else 'DIFFERENT'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
