"""Checkpoints and --RESUME: a run killed and resumed ends bit for bit where an
uninterrupted one does; checkpoints are written atomically, loaded safely, and
refused with one line when they do not belong to the command."""

import contextlib
import io
import math
import pickle
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import MAIN, ROOT, assert_user_error, head_lines, only_run, run_cli

import data
import main
import plots
import runs
import settings
import utils


@pytest.fixture(autouse=True)
def no_pictures(monkeypatch):
    """The runs in this process draw no pictures, which test_plots.py and test_main.py
    check, to keep the suite fast (about 1 s a run); the runs in a real process here (the
    SIGKILL test) still draw them all, the inside ones from a resumed history."""
    monkeypatch.setattr(plots, "inside_pictures", lambda *args, **kwargs: [])
    monkeypatch.setattr(plots, "test_pictures", lambda *args, **kwargs: [])
    monkeypatch.setattr(plots, "draw", lambda path, *args, **kwargs: None)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """600 training and 100 test rows of MNIST."""
    folder = tmp_path_factory.mktemp("resume-data")
    return (head_lines(ROOT / "train.csv", folder / "train.csv", 600),
            head_lines(ROOT / "test.csv", folder / "test.csv", 100))


def args_for(small, runs_dir, *extra):
    train, test = small
    # one BLAS thread: OpenBLAS rounds differently on 1 and 2, and THREADS = 0 would
    # choose by the load of the moment (machine.py); a resumed run keeps its own count
    return [f"--TRAIN_CSV={train}", f"--TEST_CSV={test}", f"--RUNS_DIR={runs_dir}",
            "--LAYERS=[784,16,10]", "--EPOCHS=4", "--THREADS=1", *extra]


def run_main(args, monkeypatch=None):
    """main.main(args) in this process, its printed output swallowed; returns (status, output)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main.main(list(args))
    return status, out.getvalue()


def saved(runs_dir):
    return runs.load_weights(str(only_run(runs_dir) / "weights.pkl"))


def assert_same_run(a, b):
    """Bit-identical parameters and identical histories, seconds aside."""
    assert a["best_epoch"] == b["best_epoch"]
    for layer_a, layer_b in zip(a["params"], b["params"], strict=True):
        assert list(layer_a) == list(layer_b)
        for name in layer_a:
            assert np.array_equal(layer_a[name], layer_b[name])
    for key in a["history"]:
        if key != "seconds":
            assert a["history"][key] == b["history"][key], key
    assert a["test_accuracy"] == b["test_accuracy"]


class Crash(BaseException):
    """Stands for the process dying (kill -9, a power cut) in the middle of training."""


def crashed_at_epoch(monkeypatch, n, args):
    """Run main.main(args) in this process, dying at the n-th epoch as a killed process would."""
    with monkeypatch.context() as patch:
        crash_at_epoch(patch, n)
        with pytest.raises(Crash):
            run_main(args)
    died()


def died():
    """Let go of the run folders' locks, as the end of a killed process does."""
    for lock in runs._LOCKS.values():
        lock.close()
    runs._LOCKS.clear()


def crash_at_epoch(monkeypatch, n):
    """Make the n-th call of utils.train_epoch die, as the process would."""
    real, calls = utils.train_epoch, []

    def dying(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise Crash
        return real(*args, **kwargs)

    monkeypatch.setattr(utils, "train_epoch", dying)


def test_a_run_killed_with_sigkill_resumes_to_the_same_weights(small, tmp_path):
    """The issue's test: a real process, SIGKILL after epoch 2, then --RESUME."""
    straight = tmp_path / "straight"
    extra = ("--BATCH_SIZE=8", "--DROPOUT=0.2", "--EPOCHS=30")
    assert run_cli(tmp_path, *args_for(small, straight, *extra)).returncode == 0
    killed = tmp_path / "killed"
    log = tmp_path / "out.txt"
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen([sys.executable, "-u", str(MAIN), *args_for(small, killed, *extra)],
                                cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while "epoch   2/30" not in log.read_text(encoding="utf-8"):  # epoch 1's checkpoint is written
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert "wrote:" not in log.read_text(encoding="utf-8"), "the run ended before the kill"
    assert not (only_run(killed) / "weights.pkl").exists()
    resumed = run_cli(tmp_path, *args_for(small, killed, *extra), "--RESUME")
    assert resumed.returncode == 0, resumed
    assert re.search(r"^resuming .* at epoch \d+ of 30$", resumed.stdout, re.MULTILINE)
    assert_same_run(saved(straight), saved(killed))  # history["layers"] included
    assert [r["epoch"] for r in saved(killed)["history"]["layers"]] == list(range(31))
    assert (only_run(killed) / "layers.png").is_file()  # drawn from the resumed history
    assert not (only_run(killed) / "checkpoint.pkl").exists(), "a finished run keeps no checkpoint"


@pytest.mark.parametrize("extra", [
    ["--DROPOUT=0.3"],
    ["--MAX_SHIFT=2", "--MAX_ROTATE=10.0", "--MAX_SCALE=0.1"],
    ["--ELASTIC_ALPHA=36.0", "--ELASTIC_SIGMA=6.0", "--MAX_ROTATE=10.0", "--MAX_SCALE=0.1"],
    ["--OPTIMISER=adam", "--LEARNING_RATE=0.001"],
    ["--OPTIMISER=nesterov", "--SCHEDULE=step", "--STEP_EPOCHS=1", "--WARMUP_EPOCHS=1.0"],
    ["--SCHEDULE=constant", "--OPTIMISER=adamw", "--LEARNING_RATE=0.001", "--WEIGHT_DECAY=0.01"],
    ["--PATIENCE=1", "--VAL_FRACTION=0.2"],
    ["--BATCH_NORM=True", "--ACTIVATION=sigmoid", "--BATCH_SIZE=32"],
], ids=["dropout", "augmentation", "elastic", "adam", "nesterov-step-warmup", "adamw-constant", "patience",
        "batch-norm"])
def test_resume_carries_every_state(small, tmp_path, monkeypatch, extra):
    straight, crashed = tmp_path / "straight", tmp_path / "crashed"
    assert run_main(args_for(small, straight, *extra))[0] == 0
    crashed_at_epoch(monkeypatch, 3, args_for(small, crashed, *extra))
    status, out = run_main(args_for(small, crashed, *extra, "--RESUME"))
    assert status == 0 and re.search(r"^resuming .* at epoch [23] of 4$", out, re.MULTILINE), out
    assert_same_run(saved(straight), saved(crashed))


def test_a_kill_while_writing_a_checkpoint_leaves_the_previous_one(small, tmp_path,
                                                                    monkeypatch):
    real, calls = runs.save_checkpoint, []

    def dying(folder, checkpoint):
        calls.append(1)
        if len(calls) == 2:  # the second checkpoint: die halfway through pickling it
            def half(obj, f, *a, **k):
                f.write(b"\x80\x05half a pickle")
                raise Crash
            with monkeypatch.context() as inner:
                inner.setattr(pickle, "dump", half)
                real(folder, checkpoint)
        real(folder, checkpoint)

    monkeypatch.setattr(runs, "save_checkpoint", dying)
    monkeypatch.setattr(runs, "CHECKPOINT_SHARE", math.inf)  # one every epoch, however tiny
    with pytest.raises(Crash):
        run_main(args_for(small, tmp_path))
    folder = only_run(tmp_path)
    assert sorted(p.name for p in folder.iterdir() if p.name != ".lock") == ["checkpoint.pkl",
                                                                          "settings.json"]
    assert runs.load_checkpoint(str(folder / "checkpoint.pkl"), [784, 16, 10])["epoch"] == 1


@pytest.mark.parametrize("epochs", [1, 3])
def test_a_kill_while_the_results_are_written_loses_no_epoch(small, tmp_path, monkeypatch,
                                                             epochs):
    """Killed after training, while its weights are written (a stray temporary file left),
    a run keeps the checkpoint of its last epoch: --RESUME trains nothing and finishes it,
    to the same weights, and removes the stray file. EPOCHS=1 once lost everything."""
    args = [*args_for(small, tmp_path / "killed"), f"--EPOCHS={epochs}"]
    assert run_main([*args_for(small, tmp_path / "straight"), f"--EPOCHS={epochs}"])[0] == 0

    def killed(path, result):  # a kill -9 in the middle of writing weights.pkl
        Path(path).with_name(".tmp-x1y2z3weights.pkl").write_bytes(b"\x80\x05half")
        raise Crash

    with monkeypatch.context() as patch:
        patch.setattr(runs, "save_weights", killed)
        with pytest.raises(Crash):
            run_main(args)
    died()
    folder = only_run(tmp_path / "killed")
    assert runs.load_checkpoint(str(folder / "checkpoint.pkl"), [784, 16, 10])["epoch"] == epochs
    status, out = run_main([*args, "--RESUME"])
    assert status == 0, out
    assert re.search(rf"^finishing {folder.name}: its {epochs} epochs? (is|are) trained",
                     out, re.MULTILINE), out
    assert not re.search(r"^epoch +\d+/", out, re.MULTILINE), "an epoch was trained again"
    assert_same_run(saved(tmp_path / "straight"), saved(tmp_path / "killed"))
    assert sorted(p.name for p in folder.iterdir()) == [".lock", "settings.json",
                                                         "weights.pkl"]


def test_a_finished_run_has_nothing_to_resume(small, tmp_path):
    assert run_main(args_for(small, tmp_path))[0] == 0
    status, out = run_main(args_for(small, tmp_path, "--RESUME"))
    assert status == 0 and "nothing to resume" in out


def test_resume_without_a_checkpoint_names_the_nearest_run(small, tmp_path):
    assert run_main(args_for(small, tmp_path))[0] == 0
    result = run_cli(tmp_path, *args_for(small, tmp_path, "--EPOCHS=5", "--RESUME"))
    assert_user_error(result, None, ["no checkpoint", "EPOCHS 4 there, 5 here", "schedule"])
    named = run_cli(tmp_path, *args_for(small, tmp_path, "--NAME=mine", "--RESUME"))
    assert_user_error(named, None, ["no checkpoint",
                                    "holds a run of these same settings under another NAME"])


def test_a_run_stopped_in_its_first_epoch_is_not_offered_resume(small, tmp_path, monkeypatch):
    """Stopped after one step (`| head -1`), a run saves what it trained but writes no
    checkpoint: --PREDICT with its weights and --RESUME both say to run it again without
    --RESUME (not "--RESUME continues", not another run as the nearest), which trains it
    anew and replaces the stopped run's weights."""
    assert run_main(args_for(small, tmp_path, "--EPOCHS=1", "--LAYERS=[784,8,10]"))[0] == 0
    real = utils.train_epoch

    def stopped_after_a_step(*args, **kwargs):  # as a closed output (| head -1) stops it
        return real(*args[:8], lambda done, total, loss: True, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(utils, "train_epoch", stopped_after_a_step)
        assert run_main(args_for(small, tmp_path))[0] == 130
    died()
    folder = tmp_path / runs.run_name(settings.configure(main.DEFAULTS, args_for(small, tmp_path)),
                                      settings.SHIPPED)
    assert runs.load_weights(str(folder / "weights.pkl"))["status"] == "stopped"
    assert not (folder / "checkpoint.pkl").exists()
    predicted = run_cli(tmp_path, *args_for(small, tmp_path, f"--PREDICT={small[1]}"))
    assert predicted.returncode == 0, predicted
    assert "stopped after 0 epochs" in predicted.stderr and "--RESUME continues" not in \
        predicted.stderr and "without --RESUME" in predicted.stderr, predicted.stderr
    result = run_cli(tmp_path, *args_for(small, tmp_path, "--RESUME"))
    message = assert_user_error(result, str(folder), ["stopped before its first checkpoint",
                                                      "without --RESUME"])
    assert "nearest" not in message
    status, out = run_main(args_for(small, tmp_path))  # as the hints say
    assert status == 0, out
    assert runs.load_weights(str(folder / "weights.pkl"))["status"] == "finished"


@pytest.mark.skipif(runs.fcntl is None, reason="no folder locks without fcntl (Windows)")
def test_a_second_run_of_settings_training_now_is_refused_before_loading(small, tmp_path,
                                                                          monkeypatch):
    """The same command while its run still trains: one line, before any data is loaded and
    before a "resuming" line that would say otherwise, with --RESUME or without."""
    crashed_at_epoch(monkeypatch, 3, args_for(small, tmp_path))
    folder = only_run(tmp_path)
    with open(folder / ".lock", "a") as lock:  # as the run still training holds it
        runs.fcntl.flock(lock, runs.fcntl.LOCK_EX | runs.fcntl.LOCK_NB)
        for extra in (["--RESUME"], []):
            result = run_cli(tmp_path, *args_for(small, tmp_path, *extra))
            assert_user_error(result, str(folder), ["another run of these settings"])
            assert not re.search("^(loaded|resuming) ", result.stdout, re.MULTILINE), \
                result.stdout
    status, out = run_main(args_for(small, tmp_path, "--RESUME"))  # once it has ended
    assert status == 0 and "resuming" in out, out


def test_a_checkpoint_of_other_settings_is_refused_naming_them(small, tmp_path, monkeypatch):
    crashed_at_epoch(monkeypatch, 2, args_for(small, tmp_path, "--NAME=mine"))
    result = run_cli(tmp_path, *args_for(small, tmp_path, "--NAME=mine", "--SEED=3", "--RESUME"))
    assert_user_error(result, None, ["other settings", "SEED 0 there, 3 here"])


@pytest.mark.parametrize("content", ["truncated", "foreign"])
def test_a_broken_checkpoint_is_one_line_and_says_how_to_start_over(small, tmp_path,
                                                                    monkeypatch, content):
    crashed_at_epoch(monkeypatch, 3, args_for(small, tmp_path))
    path = only_run(tmp_path) / "checkpoint.pkl"
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2] if content == "truncated"
                     else pickle.dumps({"epoch": 2, "something": "else"}))
    result = run_cli(tmp_path, *args_for(small, tmp_path, "--RESUME"))
    assert_user_error(result, str(path), ["--RESUME=False"])
    status, out = run_main(args_for(small, tmp_path, "--RESUME=False"))
    assert status == 0 and "its checkpoint is replaced as this run goes" in out


def test_the_command_of_a_stopped_run_again_never_replaces_its_checkpoint(small, tmp_path,
                                                                          monkeypatch):
    """Forgetting --RESUME once must not lose the stopped run's epochs: it is refused,
    and the checkpoint is left as it was."""
    crashed_at_epoch(monkeypatch, 3, args_for(small, tmp_path))
    path = only_run(tmp_path) / "checkpoint.pkl"
    before = path.read_bytes()
    result = run_cli(tmp_path, *args_for(small, tmp_path))
    assert_user_error(result, str(path.parent), ["holds the checkpoint of an unfinished run",
                                                 "--RESUME", "--RESUME=False"])
    assert path.read_bytes() == before


def test_compare_resumes_keeping_finished_entries(small, tmp_path, monkeypatch):
    compare = '--COMPARE=[[784,16,10],[784,8,10],[784,12,10]]'
    straight, crashed = tmp_path / "straight", tmp_path / "crashed"
    assert run_main([*args_for(small, straight), compare])[0] == 0
    # the second entry's third epoch
    crashed_at_epoch(monkeypatch, 4 + 3, [*args_for(small, crashed), compare])
    status, out = run_main([*args_for(small, crashed), compare, "--RESUME"])
    assert status == 0, out
    assert "finished earlier; kept" in out and re.search(r"resuming .* at epoch [23] of 4", out)
    for folder in sorted(p for p in straight.iterdir() if p.is_dir() and "compare" not in p.name):
        assert_same_run(runs.load_weights(str(folder / "weights.pkl")),
                        runs.load_weights(str(crashed / folder.name / "weights.pkl")))
    assert len(list(crashed.glob("compare,*/compare.md"))) == 1  # pictures are off here


def test_checkpoint_loading_checks_shapes(small, tmp_path, monkeypatch):
    crashed_at_epoch(monkeypatch, 2, args_for(small, tmp_path))
    path = str(only_run(tmp_path) / "checkpoint.pkl")
    assert runs.load_checkpoint(path, [784, 16, 10])["epoch"] == 1
    with pytest.raises(data.InputError, match="do not match"):
        runs.load_checkpoint(path, [784, 17, 10])
    assert Path(path).stat().st_size > 0


def test_resuming_on_rows_other_than_the_checkpoints_is_refused(small, tmp_path, monkeypatch):
    """The checkpoint records which rows it trained on; a training file edited (or
    replaced by another of the same name) since is refused, not trained on silently."""
    train = tmp_path / "train.csv"
    train.write_bytes(small[0].read_bytes())
    args = [f"--TRAIN_CSV={train}", *args_for(small, tmp_path)[1:]]
    crashed_at_epoch(monkeypatch, 3, args)
    lines = train.read_text(encoding="utf-8").splitlines()
    train.write_text("\n".join(lines[:-50]) + "\n", encoding="utf-8")  # 50 rows fewer
    with pytest.raises(data.InputError, match="its rows are not those the checkpoint was "
                                              "trained on .*--RESUME=False"):
        run_main([*args, "--RESUME"])
    train.write_bytes(small[0].read_bytes())  # the same rows again: it resumes
    status, out = run_main([*args, "--RESUME"])
    assert status == 0 and "resuming" in out
