"""Run `python main.py` as a child process, as a user would, and read back what it saved.

Shared by the scripts of benchmarks/ that report real runs (techniques.py,
depth.py, pictures.py): each run writes into a RUNS_DIR of the caller's
choosing, never into the project's runs/ or images/.
"""

import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import runs  # after the path is set


def run_main(args, runs_dir, quiet=True):
    """Run main.py with args into runs_dir; return (its run's folder, saved result, wall s).

    With COMPARE, the folder is the comparison's and the result None. Raises
    subprocess.CalledProcessError if the run does not exit 0.
    """
    start = time.perf_counter()
    subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), *args,
                    f"--RUNS_DIR={runs_dir}"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL if quiet else None)
    wall = time.perf_counter() - start
    folders = sorted(os.path.join(runs_dir, name) for name in os.listdir(runs_dir)
                     if os.path.isdir(os.path.join(runs_dir, name)))
    compared = [f for f in folders if os.path.basename(f).startswith("compare,")]
    if compared:
        return compared[-1], None, wall
    newest = max(folders, key=os.path.getmtime)
    return newest, runs.load_weights(os.path.join(newest, "weights.pkl")), wall
