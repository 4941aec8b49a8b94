"""settings.py: --NAME=value overrides of main's defaults, recipes of NAME = literal
lines (never executed), and the settings check refuses."""

import re
import subprocess
import sys

import pytest

import data
import main
import settings


def test_override_sets_a_value():
    """--EPOCHS=5 sets 5 and leaves the other settings at their defaults."""
    default = main.EPOCHS
    c = settings.configure(main.DEFAULTS, ["--EPOCHS=5"])
    assert c["EPOCHS"] == 5
    assert c["BATCH_SIZE"] == main.BATCH_SIZE
    assert main.EPOCHS == default  # the module's constant is not changed
    assert settings.configure(main.DEFAULTS, [])["EPOCHS"] == default


def test_override_of_an_int_into_a_float_setting():
    """--LEARNING_RATE=1 is accepted as the float 1.0."""
    value = settings.configure(main.DEFAULTS, ["--LEARNING_RATE=1"])["LEARNING_RATE"]
    assert value == 1.0
    assert isinstance(value, float)


def test_bare_string_override():
    """--OPTIMISER=adam needs no quotes."""
    assert settings.configure(main.DEFAULTS, ["--OPTIMISER=adam"])["OPTIMISER"] == "adam"


@pytest.mark.parametrize("arg", ["--NO_SUCH_SETTING=1", "--epochs=5"])
def test_unknown_setting_is_refused(arg):
    """A name that is not a setting is an InputError."""
    with pytest.raises(data.InputError, match="not a setting"):
        settings.configure(main.DEFAULTS, [arg])


@pytest.mark.parametrize("arg", ["--EPOCHS=1.5", "--LAYERS=5", "--EPOCHS=True", "--EPOCHS=five",
                                 "--EPOCHS", "EPOCHS=5"])
def test_wrong_type_or_form_is_refused(arg):
    """A value of the wrong type, or an argument of the wrong form, is an InputError."""
    with pytest.raises(data.InputError):
        settings.configure(main.DEFAULTS, [arg])


def test_unhashable_literal_is_an_input_error():
    """A literal that literal_eval cannot build (a list as a dict key) is an InputError too."""
    with pytest.raises(data.InputError):
        settings.configure(main.DEFAULTS, ["--EPOCHS={[]: 1}"])


def test_a_string_setting_given_a_number_keeps_the_text():
    """--PREDICT=7 names a file called 7, --NAME=2 a run called 2: not the int 7 or 2."""
    c = settings.configure(main.DEFAULTS, ["--PREDICT=7", "--NAME=2", "--WEIGHTS=1e3"])
    assert (c["PREDICT"], c["NAME"], c["WEIGHTS"]) == ("7", "2", "1e3")
    with pytest.raises(data.InputError, match="OPTIMISER"):  # then checked like any text
        settings.check(settings.configure(main.DEFAULTS, ["--OPTIMISER=5"]))


def test_a_path_setting_expands_the_home_folder(monkeypatch, tmp_path):
    """The shell leaves ~ after --TRAIN_CSV= as it is; the tool expands it."""
    monkeypatch.setenv("HOME", str(tmp_path))
    c = settings.configure(main.DEFAULTS, ["--TRAIN_CSV=~/digits.csv", "--RUNS_DIR=~/runs",
                                           "--NAME=~me"])
    assert c["TRAIN_CSV"] == str(tmp_path / "digits.csv")
    assert c["RUNS_DIR"] == str(tmp_path / "runs")
    assert c["NAME"] == "~me"  # a name, not a path


def test_string_setting_takes_bare_text_then_check_config_refuses_a_bad_name():
    """A string setting takes unparsable text as a string; check_config refuses unknown names."""
    c = settings.configure(main.DEFAULTS, ["--OPTIMISER={[]: 1}"])
    assert c["OPTIMISER"] == "{[]: 1}"
    with pytest.raises(data.InputError, match="OPTIMISER"):
        settings.check(c)


def test_recipe_is_applied_and_overrides_follow_it(tmp_path):
    """A recipe's NAME = value lines are applied in order; a later override wins."""
    recipe = tmp_path / "recipe.py"
    recipe.write_text('"""A recipe."""\nEPOCHS = 2\nDROPOUT = [0.1, 0.2]\n', encoding="utf-8")
    c = settings.configure(main.DEFAULTS, [str(recipe)])
    assert c["EPOCHS"] == 2
    assert c["DROPOUT"] == [0.1, 0.2]
    assert settings.configure(main.DEFAULTS, [str(recipe), "--EPOCHS=7"])["EPOCHS"] == 7
    assert settings.configure(main.DEFAULTS, ["--EPOCHS=7", str(recipe)])["EPOCHS"] == 2


@pytest.mark.parametrize("source", ["import os\n", "EPOCHS = 2\nimport os\n",
                                    "EPOCHS += 1\n", "EPOCHS = int('3')\n",
                                    "EPOCHS = (\n", "NOT_A_SETTING = 1\n"])
def test_recipe_with_code_is_refused(tmp_path, source):
    """A recipe holding anything but NAME = literal lines is an InputError, never executed."""
    recipe = tmp_path / "bad.py"
    recipe.write_text(source, encoding="utf-8")
    with pytest.raises(data.InputError):
        settings.configure(main.DEFAULTS, [str(recipe)])


def test_recipe_that_is_not_utf8_is_an_input_error(tmp_path):
    """A recipe with bytes that are not UTF-8 is an InputError naming it, not a traceback."""
    recipe = tmp_path / "latin1.py"
    recipe.write_bytes("EPOCHS = 2  # café\n".encode("latin-1"))
    with pytest.raises(data.InputError, match=re.escape(str(recipe))):
        settings.configure(main.DEFAULTS, [str(recipe)])


def test_missing_recipe_is_an_input_error(tmp_path):
    """A recipe file that does not exist is an InputError."""
    with pytest.raises(data.InputError):
        settings.configure(main.DEFAULTS, [str(tmp_path / "nope.py")])


# ----------------------------------------------------------------------------
# --help, suggestions, quoting, COMPARE entries


@pytest.mark.parametrize(("typed", "meant"), [("OPTIMIZER", "OPTIMISER"), ("epochs", "EPOCHS"),
                                              ("LEARNINGRATE", "LEARNING_RATE"),
                                              ("batch_size", "BATCH_SIZE")])
def test_a_misspelt_name_gets_the_nearest_setting(typed, meant):
    with pytest.raises(data.InputError, match=f"did you mean {meant}\\?"):
        settings.configure(main.DEFAULTS, [f"--{typed}=1"])


def test_a_name_far_from_every_setting_gets_no_guess():
    with pytest.raises(data.InputError, match="--help"):
        settings.configure(main.DEFAULTS, ["--XYZZY=1"])


def test_a_value_split_at_a_space_gets_a_hint_to_quote_it():
    with pytest.raises(data.InputError, match='quote it: "--LAYERS=\\[784, 10\\]"'):
        settings.configure(main.DEFAULTS, ["--LAYERS=[784,", "10]"])
    with pytest.raises(data.InputError, match='quote it: "--LAYERS=\\[784, 64, 10\\]"$'):
        settings.configure(main.DEFAULTS, ["--LAYERS=[784,", "64,", "10]", "--EPOCHS=2"])


@pytest.mark.parametrize(("source", "message"), [
    ("EPOCHS = 3\nEPOCHS = 1 + 1\n", "line 2: EPOCHS = 1 + 1: not a Python literal (expected an int)"),
    ('"""A recipe."""\n\nLAYERS = 5\n', "line 3: LAYERS = 5: expected list, got int"),
    ("EPOCH = 3\n", "line 1: EPOCH is not a setting; did you mean EPOCHS?"),
])
def test_a_bad_value_in_a_recipe_names_its_file_and_line(tmp_path, source, message):
    recipe = tmp_path / "mine.py"
    recipe.write_text(source, encoding="utf-8")
    with pytest.raises(data.InputError) as info:
        settings.configure(main.DEFAULTS, [str(recipe)])
    assert str(info.value) == f"{recipe}: {message}"


def test_a_bare_flag_sets_a_true_false_setting():
    assert settings.configure(main.DEFAULTS, ["--RUNS"])["RUNS"] is True


def test_help_names_every_setting_with_its_default_and_comment():
    with open(main.__file__, encoding="utf-8") as f:
        text = settings.help_text(main.__doc__, f.read(), main.DEFAULTS)
    for name, value in main.DEFAULTS.items():
        lines = [line for line in text.splitlines() if line.strip().startswith(f"{name} = ")]
        assert len(lines) == 1, name
        assert repr(value) in lines[0]
        assert len(lines[0].split(type(value).__name__, 1)[1].strip()) > 5, lines[0]
    assert "widths from input to output" in text
    assert "runs/" in text


def test_compare_entries_are_labelled_by_what_differs():
    c = dict(main.DEFAULTS, COMPARE=[{"ACTIVATION": "relu"}, {"ACTIVATION": "tanh"}])
    (l1, c1), (l2, c2) = settings.compare_entries(c)
    assert (l1, l2) == ("ACTIVATION=relu", "ACTIVATION=tanh")
    assert c2["ACTIVATION"] == "tanh" and c2["COMPARE"] == [] and c1["LAYERS"] == main.LAYERS
    mixed = dict(main.DEFAULTS, COMPARE=[[784, 10, 10], {"LAYERS": [784, 100, 10],
                                                          "ACTIVATION": "tanh"}])
    labels = [label for label, _ in settings.compare_entries(mixed)]
    assert labels == ["784-10-10, ACTIVATION=relu", "784-100-10, ACTIVATION=tanh"]


@pytest.mark.parametrize(("entry", "message"), [
    ({"ACTIVATON": "tanh"}, "did you mean ACTIVATION"),
    ({"EPOCHS": "five"}, "EPOCHS = 'five': expected int"),
    ({"RUNS_DIR": "x"}, "cannot change within a comparison"),
    ("relu", "a layer list or a dict"),
    ({"ACTIVATION": "swish"}, "COMPARE\\[0\\]: ACTIVATION"),
])
def test_a_bad_compare_entry_is_one_input_error(entry, message):
    c = dict(main.DEFAULTS, COMPARE=[entry])
    with pytest.raises(data.InputError, match=message):
        settings.check(c)


@pytest.mark.parametrize(("edit", "message"), [
    ({"EPOCHS": "5"}, "main.py: EPOCHS = '5': expected int, got str"),
    ({"EPOCHS": 2.5}, "main.py: EPOCHS = 2.5: expected int, got float"),
    ({"SEED": None}, "main.py: SEED = None: expected int, got NoneType"),
    ({"MAX_SHIFT": 1.5}, "main.py: MAX_SHIFT = 1.5: expected int, got float"),
    ({"LAYERS": (784, 16, 10)}, "main.py: LAYERS = (784, 16, 10): expected list, got tuple"),
    ({"OPTIMISER": None, "OPTIMIZER": "adam"},
     "main.py: OPTIMIZER is not a setting; did you mean OPTIMISER?"),
    ({"OPTIMISER": None}, "main.py: the setting OPTIMISER is missing from the block of settings"),
])
def test_a_constant_edited_in_main_py_is_checked_like_an_override(edit, message):
    """The guide invites editing main.py's constants: a wrong edit is one line, never a
    traceback later (None in `edit` deletes the constant, as a rename would)."""
    defaults = {k: v for k, v in {**main.DEFAULTS, **edit}.items()
                if not (v is None and k in edit and k != "SEED")}
    with pytest.raises(data.InputError) as info:
        settings.configure(defaults, [])
    assert str(info.value).startswith(message), str(info.value)


def test_an_int_edited_into_a_float_constant_is_taken():
    c = settings.configure(dict(main.DEFAULTS, LEARNING_RATE=1), [])
    assert c["LEARNING_RATE"] == 1.0 and isinstance(c["LEARNING_RATE"], float)


def test_the_schedule_counts_the_steps_batch_normalisation_takes():
    """257 rows in batches of 128: the last batch of one row is skipped with batch
    normalisation, so an epoch is 2 steps, and the cosine ends near 0 at step 7 of 8."""
    import numpy as np

    c = dict(main.DEFAULTS, LAYERS=[4, 3, 2], BATCH_NORM=True, EPOCHS=4)
    _, lr_at = main.setup(c, 257, np.random.default_rng(0))
    assert lr_at(7) < 0.05 * c["LEARNING_RATE"]
    _, lr_at = main.setup(dict(c, BATCH_NORM=False), 257, np.random.default_rng(0))
    assert lr_at(11) < 0.05 * c["LEARNING_RATE"] < lr_at(7)  # 3 steps an epoch without


# ----------------------------------------------------------------------------
# Windows paths (issue 21, item 3)

WINDOWS_PATHS = [  # (how it is given, what the message shows as written, the forward form)
    ("recipe", 'TRAIN_CSV = "D:\\data\\new\\train.csv"', "D:/data/new/train.csv"),
    ("recipe", 'TEST_CSV = "C:\\Users\\me\\test.csv"', "C:/Users/me/test.csv"),
    ("command", '--TRAIN_CSV="D:\\data\\new\\train.csv"', "D:/data/new/train.csv"),
    ("command", "--WEIGHTS='C:\\Users\\me\\w.pkl'", "C:/Users/me/w.pkl"),
]


@pytest.mark.parametrize("how, written, forward", WINDOWS_PATHS)
def test_a_windows_path_in_quotes_is_refused_as_written_with_the_fix(tmp_path, capsys, how,
                                                                    written, forward):
    """Python reads "D:\\new" as a new line and "C:\\Users" as a bad \\U escape: the path
    is refused as written (one line), with forward slashes and r"..." as the ways out."""
    if how == "recipe":
        (tmp_path / "r.py").write_text(f"EPOCHS = 2\n{written}\n", encoding="utf-8")
        args, where = [str(tmp_path / "r.py")], f"{tmp_path / 'r.py'}: line 2: {written}: "
    else:
        args, where = [written], f"{written}: "
    with pytest.raises(data.InputError) as info:
        settings.configure(main.DEFAULTS, args)
    message = str(info.value)
    assert "\n" not in message and "\t" not in message, message
    assert message.startswith(where), message
    assert f'"{forward}"' in message and 'r"' in message, message


def test_a_windows_path_without_quotes_or_with_forward_slashes_is_taken_as_written():
    c = settings.configure(main.DEFAULTS, ["--TRAIN_CSV=D:\\data\\new\\train.csv",
                                           '--TEST_CSV="D:/data/new/test.csv"'])
    assert (c["TRAIN_CSV"], c["TEST_CSV"]) == ("D:\\data\\new\\train.csv", "D:/data/new/test.csv")


# ----------------------------------------------------------------------------
# what differs from the settings the project ships with (issue 21, item 8)


def test_shipped_is_main_py_s_block_unedited():
    """settings.SHIPPED is main.py's settings block as the project ships it: a change to a
    default in main.py is made in both (runs are named by what differs from SHIPPED)."""
    import main

    assert main.DEFAULTS == settings.SHIPPED, (
        "main.py's settings differ from settings.SHIPPED: "
        + ", ".join(k for k in settings.SHIPPED if main.DEFAULTS.get(k) != settings.SHIPPED[k])
        + " (expected while you try a constant edited in main.py; a change to the project's "
        "default is made in both places)")
    assert all(type(main.DEFAULTS[k]) is type(v) for k, v in settings.SHIPPED.items())


def test_a_constant_edited_in_main_py_is_named_like_an_override(tmp_path):
    """EPOCHS = 1 edited in a copy of main.py: the run's folder, its log row and its pictures'
    subtitle say EPOCHS=1, as --EPOCHS=1 would; settings.json holds every setting."""
    import json
    import shutil

    from helpers import ROOT, csv_text, table

    for source in ROOT.glob("*.py"):
        shutil.copy(source, tmp_path / source.name)
    main_py = tmp_path / "main.py"
    text = main_py.read_text(encoding="utf-8")
    assert "\nEPOCHS = 20 " in text
    main_py.write_text(text.replace("\nEPOCHS = 20 ", "\nEPOCHS = 1 "), encoding="utf-8")
    (tmp_path / "train.csv").write_text(csv_text(table(30)), encoding="utf-8")
    (tmp_path / "test.csv").write_text(csv_text(table(20)), encoding="utf-8")
    result = subprocess.run([sys.executable, str(main_py), "--LAYERS=[4,3,10]"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "runs" / "4-3-10,EPOCHS=1"
    assert folder.is_dir(), sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert json.loads((folder / "settings.json").read_text())["EPOCHS"] == 1
    log = (tmp_path / "runs" / "log.csv").read_text(encoding="utf-8").splitlines()
    assert "EPOCHS=1" in log[1].split(",")[-1], log


# ----------------------------------------------------------------------------
# silence and noise (issue 21, item 12)


@pytest.mark.parametrize("args, warned", [
    (["--SCHEDULE=step", "--EPOCHS=2"], True), (["--SCHEDULE=step", "--EPOCHS=11"], False),
    (["--SCHEDULE=cosine", "--EPOCHS=2"], False),
    (["--SCHEDULE=step", "--COMPARE=[{'EPOCHS': 2}, {'EPOCHS': 20}]"], True)])
def test_a_step_schedule_that_never_drops_is_warned_about(capsys, args, warned):
    settings.check(settings.configure(main.DEFAULTS, args))
    out = capsys.readouterr().out
    assert ("the rate never drops" in out) == warned, out
    if "--COMPARE" in args[-1]:
        assert "warning: COMPARE[0]: SCHEDULE" in out and "COMPARE[1]" not in out, out


def test_a_committee_of_unquoted_names_gets_the_quoting_hint():
    """--WEIGHTS=[a.pkl,b.pkl] is no Python literal: not one file of that name, but the
    hint to quote each name."""
    with pytest.raises(data.InputError) as info:
        settings.configure(main.DEFAULTS, ["--WEIGHTS=[a.pkl,b.pkl]"])
    assert "needs each name quoted" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("written, hint", [
    ("--LAYERS=784,100,10", '"--LAYERS=[784,100,10]"'),
    ("--DROPOUT=0.2,0.1", '"--DROPOUT=[0.2,0.1]"')])
def test_a_list_without_brackets_gets_the_brackets_and_quotes_hint(written, hint):
    with pytest.raises(data.InputError) as info:
        settings.configure(main.DEFAULTS, [written])
    assert str(info.value).endswith(f"got tuple; a list is written in brackets, and quoted for "
                                    f"the shell: {hint}"), info.value


def test_settings_that_the_command_will_not_use_are_named(capsys):
    """One command runs (RUNS, else PREDICT, else GRADCHECK, else training): the settings of
    another, and WEIGHTS outside PREDICT and LIVE, are said to be ignored, on standard
    error, instead of leaving a user waiting for them."""
    c = dict(main.DEFAULTS)
    assert settings.unused(c) == []
    assert settings.unused({**c, "PREDICT": "a.png", "WEIGHTS": "w.pkl"}) == []
    assert settings.unused({**c, "LIVE": True, "WEIGHTS": "w.pkl"}) == []
    assert settings.unused({**c, "WEIGHTS": "w.pkl"}) == [
        ("WEIGHTS = 'w.pkl' ignored: it is read by PREDICT and LIVE only; this run trains "
         "from scratch")]
    assert settings.unused({**c, "PREDICT": "a.png", "COMPARE": [[784, 10]], "RESUME": True,
                            "LIVE": True, "GRADCHECK": True}) == [
        f"{name} ignored: PREDICT classifies with saved weights and trains nothing"
        for name in ("GRADCHECK", "COMPARE", "LIVE", "RESUME")]
    assert settings.unused({**c, "GRADCHECK": True, "COMPARE": [[784, 10]],
                            "WEIGHTS": "w.pkl"}) == [
        "COMPARE ignored: GRADCHECK checks backward's gradients and trains nothing",
        "WEIGHTS ignored: GRADCHECK checks backward's gradients and trains nothing"]
    assert settings.unused({**c, "RUNS": True}, ["--RUNS=True", "--EPOCHS=3",
                                                 "--LAYERS=[784,10,10]", "--RUNS_DIR=r"]) == [
        "EPOCHS, LAYERS ignored: RUNS lists the runs"]
    predicting = {**c, "PREDICT": "a.png", "WEIGHTS": "w.pkl"}
    argv = ["--PREDICT=a.png", "--WEIGHTS=w.pkl", "--EPOCHS=5", "--TRAIN_CSV=x.csv",
            "--TRANSPOSED=", "--LAYERS=[784,10]"]
    assert settings.unused(predicting, argv) == [
        "EPOCHS, TRAIN_CSV ignored: PREDICT reads the network from WEIGHTS and trains nothing"]
    assert settings.unused({**predicting, "WEIGHTS": ""}, argv) == []  # they name the run
    settings.check({**c, "WEIGHTS": "w.pkl"})
    out, err = capsys.readouterr()
    assert err == ("note: WEIGHTS = 'w.pkl' ignored: it is read by PREDICT and LIVE only; this "
                   "run trains from scratch\n") and out == ""
