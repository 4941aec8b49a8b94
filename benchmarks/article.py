"""Run docs/article.ipynb from a clean state and write it, with its outputs, to a scratch folder.

    python benchmarks/article.py                    # the default rows: what docs/ commits
    ARTICLE_ROWS=400 python benchmarks/article.py   # fewer rows, as tests/test_article.py does

The notebook's old outputs are cleared, then it runs top to bottom in one
fresh kernel from docs/, as Jupyter runs it (nbclient); the copy with the
new outputs goes to --out (default runs/article/article.ipynb, git-ignored)
and the seconds it took are printed. Streams are coalesced and no timings
are recorded, so two runs on the same machine write the same bytes. Nothing
under docs/ is written: after a change to the code the article walks
through, a maintainer reads the new copy and copies it over
docs/article.ipynb by hand. Needs requirements-dev.txt (nbclient, nbformat,
ipykernel); python main.py never does.
"""

import argparse
import os
import sys
import time

import nbformat
from nbclient import NotebookClient

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARTICLE = os.path.join(ROOT, "docs", "article.ipynb")


def execute(path=ARTICLE, timeout=600):
    """The notebook at path run from a clean state, with its new outputs (nbformat node).

    Raises nbclient.exceptions.CellExecutionError naming the cell that failed.
    """
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    NotebookClient(notebook, timeout=timeout, kernel_name="python3", record_timing=False,
                   coalesce_streams=True,  # the kernel's own log: errors only (not the cells')
                   extra_arguments=["--IPKernelApp.log_level=ERROR"],
                   resources={"metadata": {"path": os.path.dirname(path)}}).execute()
    return notebook


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "runs", "article", "article.ipynb"),
                        help="where to write the executed copy (default: %(default)s)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    notebook = execute()
    seconds = time.perf_counter() - start
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    partial = args.out + ".partial"  # never a half-written copy under the final name
    nbformat.write(notebook, partial)
    os.replace(partial, args.out)
    rows = os.environ.get("ARTICLE_ROWS", "the default")
    print(f"{args.out}: executed in {seconds:.1f} s (ARTICLE_ROWS {rows}, one kernel)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
