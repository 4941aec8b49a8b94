"""benchmarks/time_to_accuracy.py end to end on a tiny configuration (--quick on a few hundred
rows): every row of its table is there, its CSV holds each epoch, its picture is drawn. No
test asserts a timing or an accuracy."""

import csv
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import assert_quiet_when_the_reader_goes_away, head_lines

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "time_to_accuracy.py"
NUMBER = r"[0-9][0-9.,]*"


@pytest.mark.skipif(not (ROOT / "train.csv").exists(), reason="needs train.csv")
def test_quick_run_prints_the_table_and_writes_the_picture(tmp_path):
    train = head_lines(ROOT / "train.csv", tmp_path / "train.csv", 600)
    test = head_lines(ROOT / "test.csv", tmp_path / "test.csv", 200)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--csv", str(train),
                           "--test-csv", str(test), "--out", str(out), "--threads", "1"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    header = next(line for line in lines if line.startswith("| run |"))
    assert [cell.strip() for cell in header.split("|")[3:9]] == [
        "median epoch s", "to 98.0%", "to 99.0%", "to 99.3%", "to 99.4%", "to 99.5%"]
    names = [line.split("|")[1].strip() for line in lines if line.startswith(("| ours",
                                                                               "| PyTorch"))]
    assert names[0] == "ours"
    with open(out / "time_to_accuracy.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["run"], r["epoch"]) for r in rows if r["run"] == "ours"] == [("ours", "1"),
                                                                             ("ours", "2")]
    assert all(0 <= float(r["test_accuracy"]) <= 1 for r in rows)
    assert all(float(r["training_seconds"]) >= float(r["seconds"]) > 0 for r in rows)
    assert set(names) == {r["run"] for r in rows}
    assert (out / "time_to_accuracy.png").stat().st_size > 1000
    progress = [line.split()[:2] for line in done.stderr.splitlines() if line.startswith("epoch")]
    assert progress == [["epoch", "1/2"], ["epoch", "2/2"]], done.stderr


@pytest.mark.skipif(not (ROOT / "train.csv").exists(), reason="needs train.csv")
@pytest.mark.parametrize("signum, by", [(signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM")])
def test_a_stop_keeps_the_epochs_done(tmp_path, signum, by):
    """Ctrl-C (or a kill's SIGTERM) after the first epoch: exit 128 + the signal, the
    epochs done in the CSV, the picture and the table, marked stopped; no traceback."""
    train = head_lines(ROOT / "train.csv", tmp_path / "train.csv", 600)
    test = head_lines(ROOT / "test.csv", tmp_path / "test.csv", 200)
    out = tmp_path / "out"
    with subprocess.Popen([sys.executable, str(SCRIPT), "--quick", "--epochs", "100000",
                           "--no-torch", "--csv", str(train), "--test-csv", str(test),
                           "--out", str(out), "--threads", "1"], cwd=tmp_path, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as child:
        ready, _, _ = select.select([child.stderr], [], [], 60)  # no progress line: no hang
        first = child.stderr.readline() if ready else ""
        if not first.startswith("epoch 1/100000"):
            child.kill()
            pytest.fail(f"no progress line within 60 s: {first!r}")
        child.send_signal(signum)
        stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == 128 + signum, stdout + stderr
    assert "Traceback" not in stderr, stderr
    assert f"stopped by {by}" in stdout
    row = next(line for line in stdout.splitlines() if line.startswith("| ours"))
    assert row.startswith("| ours (stopped) | "), row
    epochs = int(row.split("|")[2])
    with open(out / "time_to_accuracy.csv", encoding="utf-8") as f:
        assert len(list(csv.DictReader(f))) == epochs >= 1
    assert (out / "time_to_accuracy.png").stat().st_size > 1000


def test_a_missing_recipe_is_one_line_and_exit_2(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--recipe", str(tmp_path / "none.py"),
                           "--no-torch"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "none.py" in done.stderr, done.stderr


@pytest.mark.skipif(not (ROOT / "train.csv").exists(), reason="needs train.csv")
def test_a_reader_that_goes_away_loses_nothing(tmp_path):
    """| head: the run goes on, writes its CSV and picture, and exits 141 without a traceback."""
    train = head_lines(ROOT / "train.csv", tmp_path / "train.csv", 600)
    test = head_lines(ROOT / "test.csv", tmp_path / "test.csv", 200)
    out = tmp_path / "out"
    assert_quiet_when_the_reader_goes_away([SCRIPT, "--quick", "--no-torch", "--csv", train,
                                            "--test-csv", test, "--out", out, "--threads", "1"],
                                           tmp_path)
    with open(out / "time_to_accuracy.csv", encoding="utf-8") as f:
        assert len(list(csv.DictReader(f))) == 2


@pytest.mark.parametrize("trouble, status, expected", [
    ("narrow test", 2, "has 499 pixel columns but the network takes 784"),
    ("narrow train", 2, "has 499 pixel columns but the network takes 784"),
    ("out is a file", 4, "cannot write there (a file, not a folder)"),
    ("warm-up too long", 2, "WARMUP_EPOCHS = 1.0: must be in [0, EPOCHS)"),
    ("negative threads", 2, "THREADS = -3: must be >= 0")])
def test_bad_input_is_one_line_before_any_training(tmp_path, trouble, status, expected):
    """Files of the wrong width, an --out that is a file, settings that --epochs or
    --threads make wrong: one line and its exit status, before the first epoch."""
    train = head_lines(ROOT / "train.csv", tmp_path / "train.csv", 300)
    test = head_lines(ROOT / "test.csv", tmp_path / "test.csv", 100)
    narrow = tmp_path / "narrow.csv"
    narrow.write_text("".join(",".join(line.split(",")[:500]) + "\n"
                              for line in test.read_text().splitlines()), encoding="utf-8")
    (tmp_path / "a file").write_text("x", encoding="utf-8")
    options = {"narrow test": ["--quick", "--test-csv", narrow],
               "narrow train": ["--quick", "--csv", narrow],
               "out is a file": ["--quick", "--out", tmp_path / "a file"],
               "warm-up too long": ["--epochs", "1"],  # recipes/record.py warms up for 1 epoch
               "negative threads": ["--quick", "--threads", "-3"]}[trouble]
    args = ["--csv", train, "--test-csv", test, "--out", tmp_path / "out", "--no-torch", *options]
    done = subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == status, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and expected in done.stderr, done.stderr
