"""runs.py: saving atomically (a crash leaves the previous file whole, the usual permissions),
weights that load as they were saved, and load_weights refusing a file that would run
code, whose params do not match its layers, or that is cut short."""

import os
import pickle
import tempfile

import hypothesis
import numpy as np
import pytest
from helpers import assert_user_error, one_epoch, run_cli
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

import data
import runs
import utils

# ----------------------------------------------------------------------------
# saving atomically


def test_saved_files_get_the_usual_permissions(tmp_path):
    """save_atomic's files are readable like any other new file (0666 less the umask), not 0600."""
    umask = os.umask(0)
    os.umask(umask)
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"x")
    path = tmp_path / "saved.bin"
    runs.save_atomic(str(path), lambda f: f.write(b"x"))
    assert path.read_bytes() == b"x"
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~umask)
    assert oct(path.stat().st_mode & 0o777) == oct(plain.stat().st_mode & 0o777)


class Boom:
    """An object whose pickling fails: a crash in the middle of save_weights."""

    def __reduce__(self):
        raise RuntimeError("boom while pickling")


def good_result(seed=0):
    """A small valid weights dict, as main.run saves it."""
    layers = [4, 3, 10]
    return {"layers": layers, "params": utils.init_params(layers, np.random.default_rng(seed)),
            "config": {"ACTIVATION": "relu"}}


def test_crash_while_pickling_leaves_previous_weights_intact(tmp_path):
    path = tmp_path / "w.pkl"
    runs.save_weights(str(path), good_result())
    before = path.read_bytes()
    # 2 MB of array is written to the temporary file before Boom raises
    crashing = {**good_result(1), "big": np.ones(500_000, np.float32), "boom": Boom()}
    with pytest.raises(RuntimeError, match="boom while pickling"):
        runs.save_weights(str(path), crashing)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["w.pkl"], "a temporary file was left behind"
    assert runs.load_weights(str(path))["layers"] == [4, 3, 10]


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()],
                         ids=["disk-full", "ctrl-c"])
def test_save_atomic_crash_midway_leaves_previous_file(tmp_path, error):
    path = tmp_path / "out.csv"
    path.write_bytes(b"the previous content\n")

    def write_half(f):
        f.write(b"ImageId,Label\n" + b"1,2\n" * 1000)
        raise error

    with pytest.raises(type(error)):
        runs.save_atomic(str(path), write_half)
    assert path.read_bytes() == b"the previous content\n"
    assert os.listdir(tmp_path) == ["out.csv"], "a temporary file was left behind"


def test_save_atomic_crash_midway_creates_no_file(tmp_path):
    path = tmp_path / "new.csv"

    def write_half(f):
        f.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        runs.save_atomic(str(path), write_half)
    assert os.listdir(tmp_path) == []


def test_save_atomic_replaces_the_file_whole(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    runs.save_atomic(str(path), lambda f: f.write(b"new content"))
    assert path.read_bytes() == b"new content"
    assert os.listdir(tmp_path) == ["out.bin"]


# ----------------------------------------------------------------------------
# weights saved and loaded again


def test_saved_weights_predict_like_the_params_in_memory(mnist_small, tmp_path):
    """save_weights then load_weights gives params that predict exactly the same labels."""
    X, y = mnist_small[0][:1000], mnist_small[1][:1000]
    params = one_epoch(3, X, y)
    path = tmp_path / "runs" / "net.pkl"
    runs.save_weights(str(path), {"layers": [784, 32, 10], "params": params,
                                   "config": {"ACTIVATION": "relu"}, "history": {}})
    loaded = runs.load_weights(str(path))
    assert loaded["layers"] == [784, 32, 10]
    for layer, layer2 in zip(params, loaded["params"]):
        assert layer2["W"].dtype == layer["W"].dtype
        assert np.array_equal(layer["W"], layer2["W"])
        assert np.array_equal(layer["b"], layer2["b"])
    before = utils.predict_logits(params, X).argmax(axis=1)
    after = utils.predict_logits(loaded["params"], X).argmax(axis=1)
    np.testing.assert_array_equal(before, after)
    assert np.mean(before == y) > 0.5  # a trained network, not a constant answer


def _bn_result(seed=0):
    """A valid weights dict of [4, 3, 10] with batch normalisation, and its running statistics."""
    layers = [4, 3, 10]
    params = utils.init_params(layers, np.random.default_rng(seed), batch_norm=True)
    stats = utils.init_stats(params)
    return {"layers": layers, "params": params, "stats": stats,
            "config": {"ACTIVATION": "relu", "BATCH_NORM": True}}


def test_saved_batch_norm_weights_predict_the_same_labels(mnist_small, tmp_path):
    """A network with batch normalisation, trained an epoch, saved and loaded: gamma, beta and
    the running statistics come back as they were, and predict the same labels."""
    X, y = mnist_small[0][:1000], mnist_small[1][:1000]
    rng = np.random.default_rng(4)
    layers = [784, 32, 16, 10]
    params = utils.init_params(layers, rng, batch_norm=True)
    stats = utils.init_stats(params)
    state = utils.init_state(params)
    utils.train_epoch(params, state, X, y, 50, rng, lambda step: 0.05, stats=stats)
    path = tmp_path / "runs" / "bn.pkl"
    runs.save_weights(str(path), {"layers": layers, "params": params, "stats": stats,
                                   "config": {"ACTIVATION": "relu", "BATCH_NORM": True}})
    loaded = runs.load_weights(str(path))
    assert [utils.is_normalised(layer) for layer in loaded["params"]] == [True, True, False]
    for layer, layer2 in zip(params + stats[:2], loaded["params"] + loaded["stats"][:2]):
        assert list(layer) == list(layer2)
        assert all(np.array_equal(layer[k], layer2[k]) and layer[k].dtype == layer2[k].dtype
                   for k in layer)
    assert loaded["stats"][2] is None
    before = utils.predict_logits(params, X, stats=stats).argmax(axis=1)
    after = utils.predict_logits(loaded["params"], X, stats=loaded["stats"]).argmax(axis=1)
    np.testing.assert_array_equal(before, after)
    assert np.mean(before == y) > 0.5


def test_a_weights_file_from_before_batch_norm_loads(mnist_small, tmp_path):
    """A file in the old format (no "stats" entry, pickled as the old main.run did) loads,
    with stats None, and predicts as its params do."""
    X, y = mnist_small[0][:500], mnist_small[1][:500]
    params = one_epoch(5, X, y)
    old = {"layers": [784, 32, 10], "params": params, "config": {"ACTIVATION": "relu"},
           "history": {"epoch": [1]}, "test_accuracy": 0.9, "best_epoch": 1, "status": "ok",
           "train_seconds": 1.0}
    path = tmp_path / "old.pkl"
    path.write_bytes(pickle.dumps(old, protocol=pickle.HIGHEST_PROTOCOL))
    loaded = runs.load_weights(str(path))
    assert loaded["stats"] is None
    np.testing.assert_array_equal(utils.predict_logits(loaded["params"], X),
                                  utils.predict_logits(params, X))


def bad_bn(kind):
    """A weights dict with batch normalisation, [4, 3, 10], wrong in one way."""
    result = _bn_result()
    (W1, g1, b1), (W2, b2) = (tuple(layer.values()) for layer in result["params"])
    m1, v1 = result["stats"][0]["mean"], result["stats"][0]["var"]  # (as old files held them)
    result["params"] = {
        "wrong-gamma-shape": [(W1, g1[:2], b1), (W2, b2)],
        "wrong-beta-shape": [(W1, g1, np.zeros(4, np.float32)), (W2, b2)],
        "integer-gamma": [(W1, g1.astype(np.int32), b1), (W2, b2)],
        "normalised-output": [(W1, g1, b1), (W2, np.ones(10, np.float32), b2)],
        "four-arrays": [(W1, g1, b1, b1), (W2, b2)],
    }.get(kind, result["params"])
    if kind.startswith("stats"):
        result["stats"] = {
            "stats-missing": None,
            "stats-wrong-mean-shape": [(m1[:2], v1), None],
            "stats-wrong-var-shape": [(m1, np.ones(5, np.float32)), None],
            "stats-negative-variance": [(m1, -v1), None],
            "stats-not-a-pair": [(m1,), None],
            "stats-on-the-output": [(m1, v1), (np.zeros(10), np.ones(10))],
            "stats-too-short": [(m1, v1)],
        }[kind]
    return result


@pytest.mark.parametrize("kind", ["wrong-gamma-shape", "wrong-beta-shape", "integer-gamma",
                                  "normalised-output", "four-arrays"])
def test_load_weights_refuses_batch_norm_params_that_do_not_match(tmp_path, kind):
    path = tmp_path / "w.pkl"
    runs.save_weights(str(path), bad_bn(kind))
    with pytest.raises(data.InputError, match="params do not match"):
        runs.load_weights(str(path))


@pytest.mark.parametrize("kind", ["stats-missing", "stats-wrong-mean-shape",
                                  "stats-wrong-var-shape", "stats-negative-variance",
                                  "stats-not-a-pair", "stats-on-the-output", "stats-too-short"])
def test_load_weights_refuses_running_statistics_that_do_not_match(tmp_path, kind):
    path = tmp_path / "w.pkl"
    runs.save_weights(str(path), bad_bn(kind))
    with pytest.raises(data.InputError, match="running statistics") as info:
        runs.load_weights(str(path))
    assert str(info.value).startswith(str(path))


def test_a_good_batch_norm_file_loads(tmp_path):
    """The valid file bad_bn starts from loads (so the refusals above are for their one fault)."""
    path = tmp_path / "w.pkl"
    runs.save_weights(str(path), _bn_result())
    loaded = runs.load_weights(str(path))
    assert [utils.is_normalised(layer) for layer in loaded["params"]] == [True, False]
    assert loaded["stats"][1] is None


# ----------------------------------------------------------------------------
# weights files from elsewhere


def test_load_weights_refuses_a_pickle_that_runs_code(tmp_path):
    """A weights file that would call os.system is refused with InputError, not run."""
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"layers": [2, 2], "params": Evil()}))
    with pytest.raises(data.InputError, match="refused"):
        runs.load_weights(str(path))


class Evil:
    """Unpickling this runs a shell command, as a malicious weights file would."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def test_the_evil_pickle_really_runs_a_command(tmp_path):
    """The payload below works under plain pickle, so refusing it means something."""
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(Evil(marker)))  # the point of the test
    assert marker.exists()


@pytest.mark.parametrize("shape", ["bare", "inside-params"])
def test_load_weights_refuses_a_pickle_that_runs_a_command(tmp_path, shape):
    marker = tmp_path / "pwned"
    obj = Evil(marker) if shape == "bare" else {**good_result(), "params": [Evil(marker)]}
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
    with pytest.raises(data.InputError) as info:
        runs.load_weights(str(path))
    assert str(info.value).startswith(str(path))
    assert not marker.exists(), "loading the weights ran the command"


def test_predict_with_a_malicious_weights_file_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({**good_result(), "params": Evil(marker)}))
    image = np.ones((28, 28))
    image[5:23, 12:16] = 0
    import matplotlib.image  # only this test needs it

    matplotlib.image.imsave(tmp_path / "x.png", image, cmap="gray")
    result = run_cli(tmp_path, "--PREDICT=x.png", "--WEIGHTS=evil.pkl")
    assert_user_error(result, "evil.pkl: ")
    assert not marker.exists(), "predicting ran the command in the weights file"


def bad_params(kind):
    """A weights dict whose params do not fit its layers [4, 3, 10], in one way."""
    result = good_result()
    (W1, b1), (W2, b2) = (tuple(layer.values()) for layer in result["params"])
    return {**result, "params": {  # tuples, as files before the layers had names held them
        "wrong-W-shape": [(W1, b1), (W2[:, :9], b2)],
        "wrong-b-shape": [(W1, b1[:2]), (W2, b2)],
        "transposed": [(W1.T, b1), (W2, b2)],
        "missing-layer": [(W1, b1)],
        "extra-layer": [(W1, b1), (W2, b2), (W2, b2)],
        "integer-weights": [(W1.astype(np.int64), b1), (W2, b2)],
        "not-a-pair": [(W1,), (W2, b2)],
    }[kind]}


@pytest.mark.parametrize("kind", ["wrong-W-shape", "wrong-b-shape", "transposed",
                                  "missing-layer", "extra-layer", "integer-weights",
                                  "not-a-pair"])
def test_load_weights_refuses_params_that_do_not_match_layers(tmp_path, kind):
    path = tmp_path / "w.pkl"
    runs.save_weights(str(path), bad_params(kind))
    with pytest.raises(data.InputError, match="do not match"):
        runs.load_weights(str(path))


@pytest.fixture(scope="module")
def good_weights_bytes():
    """The bytes of a valid weights file (also checked to load)."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "w.pkl")
        runs.save_weights(path, good_result())
        assert runs.load_weights(path)["layers"] == [4, 3, 10]
        with open(path, "rb") as f:
            return f.read()


@hypothesis.settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fraction=st.floats(0, 1, exclude_max=True))
def test_load_weights_refuses_a_truncated_file(tmp_path, good_weights_bytes, fraction):
    path = tmp_path / "truncated.pkl"
    path.write_bytes(good_weights_bytes[:int(fraction * len(good_weights_bytes))])
    with pytest.raises(data.InputError) as info:
        runs.load_weights(str(path))
    assert str(info.value).startswith(str(path))


# ----------------------------------------------------------------------------
# a run's name and folder


def settings_with(**changes):
    """main.py's defaults with some settings changed."""
    import main

    return dict(main.DEFAULTS, **changes)


def test_run_names_are_stable_and_differ_with_the_settings():
    import main

    default = runs.run_name(settings_with(), main.DEFAULTS)
    assert default == "784-256-128-64-10"
    adam = settings_with(OPTIMISER="adam", LEARNING_RATE=1e-3)
    assert runs.run_name(adam, main.DEFAULTS) == "784-256-128-64-10,LEARNING_RATE=0.001,OPTIMISER=adam"
    assert runs.run_name(dict(adam), main.DEFAULTS) == runs.run_name(adam, main.DEFAULTS)
    names = {runs.run_name(settings_with(SEED=s), main.DEFAULTS) for s in range(5)}
    assert len(names) == 5
    # outputs and actions do not change the name
    assert runs.run_name(settings_with(RUNS_DIR="elsewhere"), main.DEFAULTS) == default
    assert runs.run_name(settings_with(NAME="mine"), main.DEFAULTS) == "mine"


def test_long_run_names_are_shortened_with_a_stable_hash():
    import main

    a = settings_with(LAYERS=[784] + [100] * 30 + [10])
    b = settings_with(LAYERS=[784] + [100] * 30 + [10], SEED=1)
    name_a, name_b = runs.run_name(a, main.DEFAULTS), runs.run_name(b, main.DEFAULTS)
    assert len(name_a) <= runs.MAX_NAME and len(name_b) <= runs.MAX_NAME
    assert name_a != name_b
    assert name_a == runs.run_name(dict(a), main.DEFAULTS)
    assert runs.safe_name(name_a.replace("~", "")) == name_a.replace("~", "")


def test_a_folder_holding_other_settings_is_never_reused(tmp_path):
    """Editing main.py's defaults must not let a new run write into an old run's folder."""
    import main

    c = settings_with(RUNS_DIR=str(tmp_path))
    folder, earlier = runs.run_folder(c, main.DEFAULTS)
    assert not earlier
    runs.start_folder(folder, c)
    assert runs.run_folder(c, main.DEFAULTS) == (folder, False)  # it saved nothing yet
    runs.save_weights(os.path.join(folder, "weights.pkl"), weights_of_settings(c))
    assert runs.run_folder(c, main.DEFAULTS) == (folder, True)
    edited = dict(main.DEFAULTS, LEARNING_RATE=0.1)  # the user edited the constant
    c2 = dict(edited, RUNS_DIR=str(tmp_path))
    folder2, earlier2 = runs.run_folder(c2, edited)
    assert folder2 != folder and not earlier2
    assert os.path.basename(folder2).startswith(os.path.basename(folder) + "~")
    named = dict(c2, NAME=os.path.basename(folder))
    with pytest.raises(data.InputError, match="other settings.*LEARNING_RATE"):
        runs.run_folder(named, edited)


def test_check_writable_refuses_a_path_through_a_file(tmp_path):
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(data.InputError, match="is a file"):
        runs.check_writable(str(tmp_path / "a-file" / "runs"))
    runs.check_writable(str(tmp_path / "new" / "runs"))  # creatable: fine
    assert not (tmp_path / "new").exists(), "checking wrote something"


def trained_result(status="finished", val_acc=(0.5, 0.9), steps=10):
    """A result dict as main.train returns it."""
    return {**good_result(), "status": status, "steps": steps, "best_epoch": 2,
            "history": {"val_acc": list(val_acc), "train_acc": list(val_acc)}}


def test_save_result_never_saves_untrained_weights(tmp_path):
    path, note, ok = runs.save_result(str(tmp_path), trained_result(steps=0), 0.1)
    assert path is None and ok and "no epoch finished" in note
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(("earlier", "new", "replaced"), [
    (("finished", (0.5, 0.9)), ("stopped", (0.5, 0.6)), False),
    (("finished", (0.5, 0.9)), ("diverged", (0.5, 0.6)), False),
    (("finished", (0.5, 0.9)), ("finished", (0.1, 0.1)), False),  # at chance over a learned run
    (("stopped", (0.5, 0.6)), ("finished", (0.5, 0.9)), True),
    (("finished", (0.5, 0.9)), ("finished", (0.5, 0.8)), True),  # the same experiment again
])
def test_save_result_keeps_the_better_of_two_runs_of_a_folder(tmp_path, earlier, new, replaced):
    first = trained_result(*earlier)
    runs.save_result(str(tmp_path), first, 0.1)
    path, note, ok = runs.save_result(str(tmp_path), trained_result(*new), 0.1)
    kept = runs.load_weights(str(tmp_path / "weights.pkl"))
    assert ok
    assert kept["status"] == (new if replaced else earlier)[0], note
    assert (path is not None) == replaced, note


def test_save_result_falls_back_to_the_temporary_folder_when_the_disk_is_full(tmp_path,
                                                                              monkeypatch):
    real = runs.save_weights
    target = str(tmp_path / "run")

    def full(path, result):
        if path.startswith(target):
            raise OSError(28, "No space left on device", path)
        real(path, result)

    monkeypatch.setattr(runs, "save_weights", full)
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path / "spare"))
    path, note, ok = runs.save_result(target, trained_result(), 0.1)
    assert not ok and "No space left" in note
    assert path.startswith(str(tmp_path / "spare"))
    assert runs.load_weights(path)["status"] == "finished"


# ----------------------------------------------------------------------------
# the run log


def log_entry(name, test):
    return {"time": "2026-11-29T10:00:00", "name": name, "status": "finished", "epochs": 2,
            "kept_epoch": 2, "best_val_acc": "0.9", "test_acc": test, "train_seconds": "1.0",
            "settings": "LAYERS=4-3-10"}


def test_the_log_gains_a_row_per_run_and_prints_best_first(tmp_path):
    for name, test in [("low", "0.5"), ("none", ""), ("high", "0.9"), ("mid", "0.7")]:
        runs.append_log(str(tmp_path), log_entry(name, test))
    lines = (tmp_path / "log.csv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 5 and lines[0] == ",".join(runs.LOG_COLUMNS)
    table = runs.read_log(str(tmp_path)).splitlines()
    order = [line.split()[-1] for line in table[2:]]
    assert order == ["high", "mid", "low", "none"], table


def test_the_log_prints_the_best_validation_accuracy_first_with_the_test_beside(tmp_path):
    """--RUNS never ranks by the test set (issue 21, item 11): by best validation accuracy,
    the test accuracy in the next column."""
    for name, val, test in [("a", "0.95", "0.99"), ("b", "0.97", "0.96"), ("c", "", "0.98")]:
        runs.append_log(str(tmp_path), {**log_entry(name, test), "best_val_acc": val})
    table = runs.read_log(str(tmp_path)).splitlines()
    assert "best validation accuracy first" in table[0]
    assert table[1].split()[:2] == ["best_val_acc", "test_acc"], table
    assert [line.split()[-1] for line in table[2:]] == ["b", "a", "c"], table
    assert table[2].split()[:2] == ["97.00%", "96.00%"], table


@pytest.mark.parametrize("epochs, said", [(3, False), (100, True)])
def test_a_slower_checkpoint_pace_is_said_only_when_a_later_checkpoint_shows_it(
        tmp_path, monkeypatch, capsys, epochs, said):
    """Writing the checkpoint costs more than 5% of an epoch (an epoch of 1 microsecond
    here): a 3-epoch run has no later checkpoint to space out and says nothing (issue 21,
    item 12); a 100-epoch run says how often it writes one from now on."""
    monkeypatch.setattr(runs, "save_checkpoint", lambda folder, state: None)
    state = {"settings": {"EPOCHS": epochs}, "epoch": 1, "seconds": 0.0}
    every = runs.checkpoint(str(tmp_path), state, 1.0, 1, 1e-6)
    assert every > 2
    assert ("one every" in capsys.readouterr().out) == said


def test_temporary_files_a_killed_write_left_go_when_the_folder_is_next_used(tmp_path):
    """A SIGKILL midway through save_atomic leaves .tmp-*checkpoint.pkl (hundreds of MB for
    a large network) and .tmp-*log.csv (issue 21, item 6): the next run of the folder, and
    the next row of the log, remove them; other files stay."""
    import main

    c = settings_with(RUNS_DIR=str(tmp_path))
    folder, _ = runs.run_folder(c, main.DEFAULTS)
    os.makedirs(folder)
    for name in (".tmp-k2j1checkpoint.pkl", ".tmp-9xweights.pkl", "keep.txt"):
        with open(os.path.join(folder, name), "wb") as f:
            f.write(b"x")
    with open(tmp_path / ".tmp-a1log.csv", "wb") as f:
        f.write(b"x")
    runs.start_folder(folder, c)
    assert sorted(os.listdir(folder)) == [".lock", "keep.txt", "settings.json"]
    runs.append_log(str(tmp_path), log_entry("a", "0.5"))
    assert not (tmp_path / ".tmp-a1log.csv").exists()


def test_a_crash_while_logging_keeps_the_earlier_rows(tmp_path, monkeypatch):
    runs.append_log(str(tmp_path), log_entry("first", "0.5"))
    before = (tmp_path / "log.csv").read_bytes()
    real = runs.save_atomic

    def killed(path, write):
        def half(f):
            f.write(b"2026-11-29T1")
            raise KeyboardInterrupt
        real(path, half)

    monkeypatch.setattr(runs, "save_atomic", killed)
    with pytest.raises(KeyboardInterrupt):
        runs.append_log(str(tmp_path), log_entry("second", "0.6"))
    assert (tmp_path / "log.csv").read_bytes() == before
    assert "first" in runs.read_log(str(tmp_path))


def test_a_log_edited_out_of_shape_is_one_line_error(tmp_path):
    (tmp_path / "log.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(data.InputError, match="log.csv: line 1"):
        runs.read_log(str(tmp_path))
    with pytest.raises(data.InputError, match="no runs logged"):
        runs.read_log(str(tmp_path / "empty"))


@pytest.mark.parametrize("damage", ["quote", "header", "bytes"])
def test_a_row_is_never_added_to_a_log_it_would_not_be_readable_in(tmp_path, capsys, damage):
    """A log with a quote never closed (an edit in a spreadsheet), another header, or bytes
    that are not UTF-8: a row appended to it could never be read (--RUNS would fail on the
    whole file). It is kept aside, said so in one line, and a new log starts."""
    runs.append_log(str(tmp_path), log_entry("first", "0.5"))
    log = tmp_path / "log.csv"
    broken = {"quote": log.read_bytes().replace(b",first,", b',"first,'),
              "header": b"when,what\n1,2\n",
              "bytes": log.read_bytes() + b"\xff\xfe,x\n"}[damage]
    log.write_bytes(broken)
    runs.append_log(str(tmp_path), log_entry("second", "0.6"))
    warning = capsys.readouterr().err
    assert warning.startswith(f"warning: {log}: ") and warning.count("\n") == 1
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("log-damaged-")]
    assert len(aside) == 1 and aside[0].read_bytes() == broken and str(aside[0]) in warning
    table = runs.read_log(str(tmp_path))
    assert table.startswith("1 run in") and "second" in table
    assert table.endswith(f"\nand the runs of an earlier log kept aside, unreadable: {aside[0]}")
    runs.append_log(str(tmp_path), log_entry("third", "0.7"))  # a sound log: appended to
    assert capsys.readouterr().err == "" and runs.read_log(str(tmp_path)).startswith("2 runs")
    log.write_bytes(broken)  # --RUNS on the damaged log itself: what is wrong, and what to do
    with pytest.raises(data.InputError, match=r"log\.csv: (row|line) \d.*: not a readable run "
                                              r"log \(mend that line; else the next run"):
        runs.read_log(str(tmp_path))


def test_two_comparisons_of_other_settings_never_share_a_folder():
    import main

    entries = [{"BATCH_NORM": False}, {"BATCH_NORM": True}]
    a = dict(main.DEFAULTS, COMPARE=entries, LAYERS=[784, 32, 10])
    b = dict(main.DEFAULTS, COMPARE=entries, LAYERS=[784, 16, 10])
    folder_a = runs.compare_folder(a, main.DEFAULTS)
    assert folder_a != runs.compare_folder(b, main.DEFAULTS)
    assert folder_a == runs.compare_folder(dict(a), main.DEFAULTS)
    assert "784-32-10" in folder_a and "BATCH_NORM=True" in folder_a
    edited = dict(main.DEFAULTS, LEARNING_RATE=0.1)  # main.py's default edited
    assert runs.compare_folder(dict(a, LEARNING_RATE=0.1), edited) != folder_a


def test_a_folder_in_use_by_another_run_is_refused(tmp_path):
    import fcntl

    import main

    folder = str(tmp_path / "run")
    os.makedirs(folder)
    with open(os.path.join(folder, ".lock"), "a") as other:  # another process's claim
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(data.InputError, match="another run of these settings"):
            runs.start_folder(folder, dict(main.DEFAULTS))
    runs.start_folder(folder, dict(main.DEFAULTS))  # free again: claimed
    runs.start_folder(folder, dict(main.DEFAULTS))  # this process's own claim: fine


def test_a_checkpoint_given_as_weights_says_what_it_is(tmp_path):
    path = tmp_path / "checkpoint.pkl"
    runs.save_checkpoint(str(tmp_path), {"settings": {}, "epoch": 1, "params": [], "state": {},
                                         "rng": {}, "history": {}, "best": {}, "seconds": 0.0})
    with pytest.raises(data.InputError, match="a checkpoint, not a weights file.*--RESUME"):
        runs.load_weights(str(path))


def test_a_prediction_never_takes_the_name_of_another_inputs_outputs(tmp_path):
    """data/test.csv and other/test.csv predicted with the same weights: two names."""
    folder = tmp_path / "w"
    folder.mkdir()
    first = runs.prediction_name(str(folder), str(tmp_path / "data" / "test.csv"), "test")
    second = runs.prediction_name(str(folder), str(tmp_path / "other" / "test.csv"), "test")
    assert first == "test"
    assert second.startswith("test~") and len(second) == len("test~") + 8
    assert runs.prediction_name(str(folder), str(tmp_path / "data" / "test.csv"), "test") == first
    assert runs.prediction_name(str(folder), str(tmp_path / "other" / "test.csv"),
                                "test") == second


@pytest.mark.parametrize(("content", "said"), [
    (b"\x89PNG\r\n\x1a\n" + bytes(40), "is a PNG picture, not a weights file"),
    (b"label,pixel0,pixel1\n5,0,0\n", "is text (it starts 'label,pixel0,pixel1'), not a weights"),
    (b"", "is empty, not a weights file"),
    (b"\x80\x04\x95" + bytes(3), "weights file"),
])
def test_a_file_that_is_no_weights_file_is_named_in_one_line(tmp_path, content, said):
    path = tmp_path / "w.pkl"
    path.write_bytes(content)
    with pytest.raises(data.InputError) as info:
        runs.load_weights(str(path))
    assert said in str(info.value) and "\n" not in str(info.value), str(info.value)


# ----------------------------------------------------------------------------
# a folder without its settings.json, a folder that saved nothing, one deleted meanwhile


def weights_of_settings(c, seed=0):
    """A weights dict with the layers and config of settings c, as main.run saves it."""
    return {"layers": list(c["LAYERS"]), "config": dict(c),
            "params": utils.init_params(c["LAYERS"], np.random.default_rng(seed))}


def test_a_folder_whose_settings_json_is_gone_is_judged_by_its_weights(tmp_path):
    """weights.pkl without settings.json: the settings inside the weights decide, so a run
    of other settings never takes the folder (nor replaces its weights)."""
    import main

    mine = settings_with(RUNS_DIR=str(tmp_path), NAME="mine", LAYERS=[784, 64, 10], EPOCHS=3)
    folder, _ = runs.run_folder(mine, main.DEFAULTS)
    runs.save_weights(os.path.join(folder, "weights.pkl"), weights_of_settings(mine))
    assert runs.run_folder(mine, main.DEFAULTS) == (folder, True)
    other = dict(mine, LAYERS=[784, 16, 10], EPOCHS=1)
    with pytest.raises(data.InputError, match=r"other settings \(EPOCHS 3 there, 1 here; LAYERS"):
        runs.run_folder(other, main.DEFAULTS)
    unnamed = dict(other, NAME="")  # an automatic name that happens to be taken
    os.rename(folder, tmp_path / runs.run_name(unnamed, main.DEFAULTS))
    folder2, earlier = runs.run_folder(unnamed, main.DEFAULTS)
    assert "~" in os.path.basename(folder2) and not earlier


@pytest.mark.parametrize("left", ["weights.pkl", "checkpoint.pkl"])
def test_a_run_file_of_settings_that_cannot_be_told_makes_the_folder_anothers(tmp_path, left):
    import main

    c = settings_with(RUNS_DIR=str(tmp_path), NAME="mine")
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / left).write_bytes(b"\x80\x04garbled")
    with pytest.raises(data.InputError) as info:
        runs.run_folder(c, main.DEFAULTS)
    assert "cannot be told" in str(info.value) and "choose another NAME" in str(info.value)
    assert "\n" not in str(info.value)


def test_a_checkpoint_without_settings_json_tells_its_settings(tmp_path):
    import main

    c = settings_with(RUNS_DIR=str(tmp_path), NAME="mine")
    folder = str(tmp_path / "mine")
    runs.save_checkpoint(folder, {"settings": runs.recorded(c), "epoch": 1})
    assert runs.run_folder(c, main.DEFAULTS) == (folder, True)
    with pytest.raises(data.InputError, match="other settings.*SEED"):
        runs.run_folder(dict(c, SEED=1), main.DEFAULTS)


def test_a_folder_that_saved_nothing_is_no_earlier_run_and_is_abandoned(tmp_path):
    """A run that failed before its first epoch (out of memory, say) left settings.json and
    .lock only: that is not 'an earlier run', and abandon removes the folder."""
    import main

    c = settings_with(RUNS_DIR=str(tmp_path))
    folder, _ = runs.run_folder(c, main.DEFAULTS)
    runs.start_folder(folder, c)
    assert runs.run_folder(c, main.DEFAULTS) == (folder, False)
    runs.abandon(folder)
    assert not os.path.exists(folder)
    runs.start_folder(folder, c)  # the lock was given back: claimed again
    runs.save_weights(os.path.join(folder, "weights.pkl"), weights_of_settings(c))
    runs.abandon(folder)  # it holds weights: kept
    assert runs.run_folder(c, main.DEFAULTS) == (folder, True)


def test_a_folder_deleted_while_training_gets_its_settings_and_lock_again(tmp_path):
    import fcntl
    import shutil

    import main

    c = settings_with(RUNS_DIR=str(tmp_path))
    folder, _ = runs.run_folder(c, main.DEFAULTS)
    runs.start_folder(folder, c)
    shutil.rmtree(folder)
    assert runs.finish_folder(folder, c) is None and not os.path.exists(folder)  # nothing saved
    runs.save_weights(os.path.join(folder, "weights.pkl"), weights_of_settings(c))  # made again
    path = runs.finish_folder(folder, c)
    assert path == os.path.join(folder, "settings.json")
    assert runs.read_settings(folder) == runs.recorded(c)
    with open(os.path.join(folder, ".lock"), "a") as other, pytest.raises(OSError):
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by this process again


# ----------------------------------------------------------------------------
# a full disk, a read-only folder


@pytest.mark.parametrize("where", ["write", "mkstemp", "replace"])
def test_save_atomic_names_the_file_it_could_not_write(tmp_path, monkeypatch, where):
    """The error names the destination, never the hidden .tmp- file nor nothing."""
    path = str(tmp_path / "out.csv")

    def write(f):
        if where == "write":
            raise OSError(28, "No space left on device")  # as a full disk's write: no name
        f.write(b"x")

    if where == "mkstemp":
        def refused(*args, **kwargs):
            raise PermissionError(13, "Permission denied", str(tmp_path / ".tmp-abcout.csv"))
        monkeypatch.setattr(tempfile, "mkstemp", refused)
    if where == "replace":
        def refused(src, dst):
            raise OSError(30, "Read-only file system", src, dst)
        monkeypatch.setattr(os, "replace", refused)
    with pytest.raises(OSError) as info:
        runs.save_atomic(path, write)
    assert info.value.filename == path and info.value.filename2 is None
    assert os.listdir(tmp_path) == []


def test_a_disk_without_room_for_the_weights_is_refused_before_loading(tmp_path, monkeypatch,
                                                                     capsys):
    import shutil

    import main

    c = settings_with(RUNS_DIR=str(tmp_path / "runs"), LAYERS=[784, 1000, 10])
    kept, peak = runs.disk_needed(c)
    assert kept >= 4 * utils.count_params(c["LAYERS"]) and peak > kept
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage._replace(free=0))
    with pytest.raises(data.InputError) as info:
        runs.check_space(c["RUNS_DIR"], [c])
    message = str(info.value)
    assert message.startswith(f"{c['RUNS_DIR']}: its disk has 0 MB free") and "RUNS_DIR" in message
    assert f"about {runs.size_text(kept)}" in message
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage._replace(free=kept + 1))
    runs.check_space(c["RUNS_DIR"], [c])  # the weights fit, the checkpoints may not: a warning
    assert capsys.readouterr().out.startswith(f"warning: {c['RUNS_DIR']}: ")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage._replace(free=peak))
    runs.check_space(c["RUNS_DIR"], [c])
    assert capsys.readouterr().out == ""
    assert runs.disk_needed(dict(c, EPOCHS=1)) == (kept, peak)  # its last epoch has one too
    assert main.DEFAULTS["EPOCHS"] > 1


# ----------------------------------------------------------------------------
# weights that are not numbers


@pytest.mark.parametrize(("where", "said"), [("W", "W of layer 2"), ("b", "b of layer 1"),
                                             ("stats", "running var of layer 1")])
def test_load_weights_refuses_nan_or_inf(tmp_path, where, said):
    result = _bn_result() if where == "stats" else good_result()
    if where == "W":
        result["params"][1]["W"][0, 0] = np.nan
    elif where == "b":
        result["params"][0]["b"][2] = np.inf
    else:
        result["stats"][0]["var"][0] = np.nan
    path = tmp_path / "w.pkl"
    runs.save_weights(str(path), result)
    with pytest.raises(data.InputError) as info:
        runs.load_weights(str(path))
    assert str(info.value).startswith(f"{path}: ") and said in str(info.value), str(info.value)
    assert "NaN or infinite" in str(info.value) and "\n" not in str(info.value)


def test_resuming_a_checkpoint_that_went_while_the_run_started_is_refused(tmp_path):
    """--RESUME reads the checkpoint before the data loads; if another run of these settings
    ends meanwhile (removing or rewriting it) this one is refused once it holds the folder,
    rather than training again from a stale checkpoint and logging the run twice."""
    layers = [4, 3, 10]
    params = utils.init_params(layers, np.random.default_rng(0))
    checkpoint = {"settings": {}, "epoch": 1, "params": params,
                  "state": utils.init_state(params, "momentum"), "rng": {}, "history": {},
                  "best": {"params": utils.copy_params(params)}, "seconds": 0.0}
    folder = tmp_path / "run"
    folder.mkdir()
    runs.save_checkpoint(str(folder), checkpoint)
    c = {"LAYERS": layers, "EPOCHS": 3, "PATIENCE": 0}
    read = runs.load_checkpoint(str(folder / "checkpoint.pkl"), layers)
    runs.save_checkpoint(str(folder), {**checkpoint, "epoch": 2})  # the other run went on
    with pytest.raises(data.InputError, match="ended while this one started"):
        runs.start_run(str(folder), c, True, read)
    (folder / "checkpoint.pkl").unlink()  # ... and finished
    with pytest.raises(data.InputError, match="ended while this one started"):
        runs.start_run(str(folder), c, True, read)
    runs.save_checkpoint(str(folder), checkpoint)  # the one read: resumed
    runs.start_run(str(folder), c, True, read)


def test_load_checkpoint_refuses_nan(tmp_path):
    layers = [4, 3, 10]
    params = utils.init_params(layers, np.random.default_rng(0))
    checkpoint = {"settings": {}, "epoch": 1, "params": params,
                  "state": utils.init_state(params, "momentum"), "rng": {}, "history": {},
                  "best": {"params": utils.copy_params(params)}, "seconds": 0.0}
    runs.save_checkpoint(str(tmp_path), checkpoint)
    assert runs.load_checkpoint(str(tmp_path / "checkpoint.pkl"), layers)["epoch"] == 1
    checkpoint["best"]["params"][0]["W"][1, 1] = np.nan
    runs.save_checkpoint(str(tmp_path), checkpoint)
    with pytest.raises(data.InputError, match="the best epoch's W of layer 1 holds NaN"):
        runs.load_checkpoint(str(tmp_path / "checkpoint.pkl"), layers)


def test_a_run_recorded_before_elastic_distortions_is_still_the_run_of_its_settings(tmp_path):
    """A settings.json written before ELASTIC_ALPHA and ELASTIC_SIGMA existed (neither in it)
    is the record of the default settings, where elastic distortions are off; with them on,
    both are recorded and the old folder is another run's."""
    import json

    import main

    c = {**main.DEFAULTS, "RUNS_DIR": str(tmp_path)}
    folder, _ = runs.run_folder(c, main.DEFAULTS)
    os.makedirs(folder)
    old = {k: v for k, v in runs.recorded(c).items() if not k.startswith("ELASTIC_")}
    with open(os.path.join(folder, "settings.json"), "w", encoding="utf-8") as f:
        json.dump(old, f)
    open(os.path.join(folder, "weights.pkl"), "wb").close()
    assert runs.run_folder(c, main.DEFAULTS) == (folder, True)
    on = {**c, "ELASTIC_ALPHA": 36.0}
    assert {"ELASTIC_ALPHA": 36.0, "ELASTIC_SIGMA": 6.0}.items() <= runs.recorded(on).items()
    with pytest.raises(data.InputError, match="ELASTIC_ALPHA None there, 36.0 here"):
        runs.run_folder({**on, "NAME": os.path.basename(folder)}, main.DEFAULTS)


# ----------------------------------------------------------------------------
# weights written under another NumPy (numpy.core in 1.26, numpy._core in 2)


def renamed_modules(data, old, new):
    """A pickle's bytes with every global from module prefix `old` named from `new` instead,
    as the other NumPy writes it: rebuilt opcode by opcode with pickletools, without frames
    (optional in protocol 4+), so the strings' lengths may change."""
    import pickletools

    out = bytearray()
    ops = list(pickletools.genops(data))
    for (op, arg, pos), (_, _, end) in zip(ops, [*ops[1:], (None, None, len(data))]):
        if op.name == "FRAME":
            continue
        if op.name == "SHORT_BINUNICODE" and (arg == old or arg.startswith(old + ".")):
            text = (new + arg[len(old):]).encode()
            out += b"\x8c" + bytes([len(text)]) + text
        else:
            out += data[pos:end]
    return bytes(out)


@pytest.mark.filterwarnings("ignore:numpy.core.*is deprecated:DeprecationWarning")
@pytest.mark.parametrize("written, missing", [
    ("numpy._core", "numpy._core"),  # written by NumPy 2, read where numpy._core lacks them
    ("numpy.core", "numpy.core"),  # written by NumPy 1.26, read by a NumPy without numpy.core
])
def test_weights_of_the_other_numpy_load_through_the_safe_unpickler(tmp_path, monkeypatch,
                                                                    written, missing):
    """NumPy 1.26 has no numpy._core.numeric (numpy/numpy#28340): the names a file gives are
    found in whichever of numpy._core and numpy.core the installed NumPy has. Simulated by
    making the modules of one spelling unimportable (sys.modules[name] = None)."""
    import sys

    rng = np.random.default_rng(0)
    result = {"layers": [4, 3, 2], "params": utils.init_params([4, 3, 2], rng),
              "config": {}, "history": {}, "best_epoch": np.int64(1), "lr": np.float64(0.5)}
    path = tmp_path / "weights.pkl"
    runs.save_weights(str(path), result)
    original = path.read_bytes()
    assert b"numpy._core." in original  # written by this NumPy 2
    path.write_bytes(renamed_modules(original, "numpy._core", written))
    for inner in ("numeric", "multiarray"):
        monkeypatch.setitem(sys.modules, f"{missing}.{inner}", None)  # import raises
    loaded = runs.load_weights(str(path))
    assert loaded["best_epoch"] == 1 and loaded["lr"] == 0.5
    for layer, layer0 in zip(loaded["params"], result["params"]):
        assert layer.keys() == layer0.keys()
        for key, a in layer.items():
            assert a.dtype == layer0[key].dtype and np.array_equal(a, layer0[key])


def test_the_safe_unpickler_still_refuses_other_numpy_names(tmp_path):
    path = tmp_path / "weights.pkl"
    runs.save_weights(str(path), {"layers": [2, 2], "params": [(np.zeros((2, 2)), np.zeros(2))]})
    path.write_bytes(renamed_modules(path.read_bytes(), "numpy._core.numeric",
                                     "numpy._core.records"))
    with pytest.raises(data.InputError, match="refused to load numpy._core.records._frombuffer"):
        runs.load_weights(str(path))
