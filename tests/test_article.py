"""The article, docs/article.ipynb: it runs top to bottom without an error, so it cannot go
stale as the code it walks through changes; it is committed with the outputs of one clean run,
so it reads on GitHub; and its prose types no measured figure (the cells print them, or write
the sentences that quote them).

The run here uses few training rows (the notebook's ARTICLE_ROWS), so it takes seconds; its
own cells assert what must hold on any rows (forward is the loop it explains, every gradient
agrees with finite differences, update leaves grads alone).
"""

import importlib.util
import re

import nbformat
from helpers import ROOT

ARTICLE = ROOT / "docs" / "article.ipynb"
SCRIPT = ROOT / "benchmarks" / "article.py"  # runs the notebook as Jupyter does
TEST_ROWS = 400  # training rows for the run here: three epochs of a few batches each
MAX_BYTES = 1_000_000  # committed with its pictures, it must stay small enough to read
DEFAULT_ROWS = re.compile(r'os\.environ\.get\("ARTICLE_ROWS", "(\d+)"\)')
# A measured figure in prose would be a decimal or a percentage (a loss, an accuracy, a
# ratio); section numbers, widths and years are not measured.
FIGURE = re.compile(r"\d\.\d|\d\s*%")
MATH_OR_CODE = re.compile(r"\$\$.*?\$\$|\$[^$]*\$|`[^`]*`", re.DOTALL)


def printed(notebook):
    """Everything the code cells printed or displayed, as one string."""
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                texts.append(output.text)
            elif output.output_type in ("display_data", "execute_result"):
                texts += [output.data.get("text/markdown", ""), output.data.get("text/plain", "")]
    return "\n".join(texts)


def errors(notebook):
    """The error outputs of a notebook's cells, as 'name: value'."""
    return [f"{o.ename}: {o.evalue}" for cell in notebook.cells
            for o in cell.get("outputs", []) if o.output_type == "error"]


def load_script():
    """benchmarks/article.py as a module."""
    spec = importlib.util.spec_from_file_location("article", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_article_runs_without_an_error_on_a_few_rows(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("ARTICLE_ROWS", str(TEST_ROWS))  # the kernel inherits the environment
    out = tmp_path / "article.ipynb"
    assert load_script().main(["--out", str(out)]) == 0  # a failing cell raises here
    assert capsys.readouterr().out.startswith(f"{out}: executed in ")
    notebook = nbformat.read(out, as_version=4)
    assert errors(notebook) == []
    text = printed(notebook)
    assert f"ARTICLE_ROWS = {TEST_ROWS}" in text  # the knob reached the notebook
    assert f"training rows X_train ({TEST_ROWS}, 784)" in text
    assert "every row sums to 1: True" in text
    assert "grads left as they were: True" in text


def test_the_committed_article_holds_the_outputs_of_one_clean_run():
    notebook = nbformat.read(ARTICLE, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    assert [i for i, cell in enumerate(code) if not cell.outputs] == []
    assert errors(notebook) == []
    rows = DEFAULT_ROWS.search("\n".join(cell.source for cell in code))
    assert rows, "the notebook no longer reads ARTICLE_ROWS with a default"
    assert f"ARTICLE_ROWS = {rows.group(1)}" in printed(notebook)  # run on the default rows
    assert ARTICLE.stat().st_size < MAX_BYTES


def test_the_articles_prose_types_no_measured_figure():
    notebook = nbformat.read(ARTICLE, as_version=4)
    found = [(i, match.group(0)) for i, cell in enumerate(notebook.cells)
             if cell.cell_type == "markdown"
             for match in FIGURE.finditer(MATH_OR_CODE.sub("", cell.source))]
    assert found == []
