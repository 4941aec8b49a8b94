"""Run `python main.py` as a child process, as a user would, and read back what it saved.

Shared by the scripts of benchmarks/ that report real runs (techniques.py,
depth.py, pictures.py): each run writes into a RUNS_DIR of the caller's
choosing, never into the project's runs/ or images/.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import runs  # after the path is set


def run_main(args, runs_dir, quiet=True, patch=None):
    """Run main.py with args into runs_dir; return (its run's folder, saved result, wall s).

    With COMPARE, the folder is the comparison's and the result None. patch,
    Python statements run in the child before main.py (say, to change a
    constant of utils for a study), or None. Raises
    subprocess.CalledProcessError if the run does not exit 0.
    """
    main_py = os.path.join(ROOT, "main.py")
    program = [main_py] if patch is None else [
        "-c", (f"{patch}\nimport runpy, sys\nsys.argv[0] = {main_py!r}\n"
               f"runpy.run_path({main_py!r}, run_name='__main__')")]
    start = time.perf_counter()
    subprocess.run([sys.executable, *program, *args, f"--RUNS_DIR={runs_dir}"], cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL if quiet else None)
    wall = time.perf_counter() - start
    folders = sorted(os.path.join(runs_dir, name) for name in os.listdir(runs_dir)
                     if os.path.isdir(os.path.join(runs_dir, name)))
    compared = [f for f in folders if os.path.basename(f).startswith("compare,")]
    if compared:
        return compared[-1], None, wall
    newest = max(folders, key=os.path.getmtime)
    return newest, runs.load_weights(os.path.join(newest, "weights.pkl")), wall


def print_table(description, header, rows, cells):
    """Run each row asked for on the command line (--only) and print its Markdown line.

    header -- the table's first two lines; rows -- (name, overrides of main.py);
    cells(name, overrides, result, wall) -- the row's cells, as text.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--only", default="", help="run only rows whose name contains this")
    args = parser.parse_args()
    print(header)
    for name, overrides in rows:
        if args.only.lower() not in name.lower():
            continue
        with tempfile.TemporaryDirectory() as folder:
            _, result, wall = run_main(overrides, folder)
        print("| " + " | ".join(cells(name, overrides, result, wall)) + " |", flush=True)


def scores(result):
    """A run's test accuracy and best validation accuracy, as two cells."""
    return [f"{result['test_accuracy']:.2%}", f"{max(result['history']['val_acc']):.2%}"]
