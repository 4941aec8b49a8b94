"""Make the pictures the README and docs/ show, from real runs of main.py.

    python benchmarks/pictures.py                 # every picture (about 10 minutes here)
    python benchmarks/pictures.py --only default  # the pictures whose key contains 'default'

Each picture comes from one `python main.py ...` run (a child process) whose
outputs go to a temporary RUNS_DIR; the pictures are then copied into
--out (default: runs/readme-pictures/, git-ignored), named as the README
and docs/ name them, with the command that made each listed in pictures.txt there.
Nothing under images/ is written: a maintainer looks at the new pictures
and copies them into images/ by hand, so that no command the docs show
ever changes a committed file.
"""

import argparse
import os
import shutil
import tempfile

from runner import ROOT, run_main

# key, the arguments of main.py, {picture in the run's folder: name in images/}
PICTURES = [
    ("default", [], {"curves.png": "curves-784-256-128-64-10.png",
                     "confusion.png": "confusion-784-256-128-64-10.png",
                     "mistakes.png": "mistakes-784-256-128-64-10.png",
                     "layers.png": "layers-784-256-128-64-10.png",
                     "activations.png": "activations-784-256-128-64-10.png",
                     "weights.png": "weights-784-256-128-64-10.png"}),
    ("sigmoid", ["--LAYERS=[784,30,30,30,30,10]", "--ACTIVATION=sigmoid"],
     {"layers.png": "layers-784-30-30-30-30-10-sigmoid.png",
      "activations.png": "activations-784-30-30-30-30-10-sigmoid.png",
      "weights.png": "weights-784-30-30-30-30-10-sigmoid.png"}),
    ("small", ["--LAYERS=[784,10,10]"], {"curves.png": "curves-784-10-10.png"}),
    ("best", ["recipes/best.py"], {"curves.png": "curves-784-800-800-10.png"}),
    ("compare", ["--COMPARE=[[784,10,10],[784,64,10],[784,256,128,64,10],[784,512,512,10]]"],
     {"compare.png": "compare.png", "compare.md": "compare.md"}),
    # Ioffe and Szegedy's MNIST experiment: 3 x 100 sigmoid, batches of 60, 50,000 steps
    ("batch-norm", ["--LAYERS=[784,100,100,100,10]", "--ACTIVATION=sigmoid", "--BATCH_SIZE=60",
                    "--EPOCHS=56", '--COMPARE=[{"BATCH_NORM": False}, {"BATCH_NORM": True}]'],
     {"compare.png": "batch-norm-compare.png", "compare.md": "batch-norm-compare.md"}),
]


def main():
    """Run the commands asked for and copy their pictures into --out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="only the pictures whose key contains this")
    parser.add_argument("--out", default=os.path.join(ROOT, "runs", "readme-pictures"))
    options = parser.parse_args()
    os.makedirs(options.out, exist_ok=True)
    made = []
    for key, args, pictures in PICTURES:
        if options.only not in key:
            continue
        with tempfile.TemporaryDirectory() as runs_dir:
            folder, _, wall = run_main(args, runs_dir)
            print(f"  {' '.join(args) or '(defaults)'}: {wall:.0f} s", flush=True)
            for source, target in pictures.items():
                shutil.copyfile(os.path.join(folder, source), os.path.join(options.out, target))
                made.append(f"{target}: python main.py {' '.join(args)}".rstrip())
    with open(os.path.join(options.out, "pictures.txt"), "a", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in made))
    print(f"{len(made)} pictures in {options.out}; look at them, then copy them into images/")


if __name__ == "__main__":
    main()
