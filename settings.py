"""Settings: main.py's constants, changed by recipe files and --NAME=value overrides.

In the spirit of nanoGPT's configurator.py: main.py keeps its settings as
plain constants at its top and hands them here with the command line. Each
override is a Python literal read with ast.literal_eval (a string may go
without quotes), must have the type of the constant it replaces, and is
printed as it is applied. A recipe file holds NAME = literal lines and is
parsed, never executed. check() then refuses values that cannot work.
"""

import ast
import difflib
import io
import math
import os
import shlex
import sys
import tokenize
import warnings

from data import InputError
from utils import ACTIVATIONS, learning_rate

# The settings as the project ships them: main.py's block, unedited (tests/test_settings.py
# checks that the two agree). A run's name, its pictures' subtitles and its row of the run
# log say what differs from these, so a constant edited in main.py shows there as a recipe
# or --NAME=value would (settings.json holds every setting). Their types are the kinds of
# value each setting takes: main.py's constants are checked against them (an edit to
# EPOCHS = "5" is one line, not a traceback), and overrides must have the same kind. An int
# is taken where a float is wanted.
SHIPPED = {"TRAIN_CSV": "train.csv", "TEST_CSV": "test.csv", "TRAIN_LABELS": "",
           "TEST_LABELS": "", "TRANSPOSED": "", "VAL_FRACTION": 0.1,
           "LAYERS": [784, 256, 128, 64, 10], "ACTIVATION": "relu", "INIT": "",
           "BATCH_NORM": False, "EPOCHS": 20, "BATCH_SIZE": 128, "LEARNING_RATE": 0.05,
           "OPTIMISER": "momentum", "MOMENTUM": 0.9, "SCHEDULE": "cosine",
           "WARMUP_EPOCHS": 0.0, "STEP_EPOCHS": 10, "STEP_GAMMA": 0.1, "WEIGHT_DECAY": 0.0,
           "DROPOUT": 0.0, "MAX_NORM": 0.0, "MAX_SHIFT": 1, "MAX_ROTATE": 0.0, "MAX_SCALE": 0.0,
           "ELASTIC_ALPHA": 0.0, "ELASTIC_SIGMA": 6.0, "PATIENCE": 0, "SEED": 0, "THREADS": 0,
           "RUNS_DIR": "runs", "NAME": "", "RUNS": False, "RESUME": False, "COMPARE": [],
           "PREDICT": "", "WEIGHTS": "", "GRADCHECK": False, "LIVE": False, "LIVE_PORT": 8000,
           "LIVE_HOST": "127.0.0.1"}
KINDS = {name: type(value) for name, value in SHIPPED.items()}
ALSO_ACCEPTS = {"DROPOUT": (list,), "WEIGHTS": (list,)}  # beyond the type of the default
# Settings that say what to do or where to write, not how to train: a run's
# name and its recorded settings leave them out.
NOT_RESULTS = {"NAME", "RUNS_DIR", "COMPARE", "PREDICT", "WEIGHTS", "RUNS", "RESUME", "THREADS",
               "GRADCHECK", "LIVE", "LIVE_PORT", "LIVE_HOST"}
# What decides the rows a run trains, validates and tests on: loaded once for all of
# COMPARE's entries, so no entry may change them.
SAME_ROWS = ("TRAIN_CSV", "TEST_CSV", "TRAIN_LABELS", "TEST_LABELS", "TRANSPOSED",
             "VAL_FRACTION", "SEED")
PATHS = {"TRAIN_CSV", "TEST_CSV", "TRAIN_LABELS", "TEST_LABELS", "RUNS_DIR", "PREDICT", "WEIGHTS"}  # files and folders: ~ expanded
PROJECT = os.path.dirname(os.path.abspath(__file__))  # where main.py and its CSVs are
OPTIMISERS = ("sgd", "momentum", "nesterov", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine")


def parse_value(name, text, default, shown=None):
    """Turn the text of an override into a value of the default's type.

    An int is accepted where the default is a float. shown -- how errors
    name the value (default: --NAME=text). Raises InputError.
    """
    shown = shown or f"--{name}={text}"
    try:
        with warnings.catch_warnings():  # "D:\data": an invalid escape, said below if it matters
            warnings.simplefilter("ignore", (SyntaxWarning, DeprecationWarning))
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        if name in PATHS and "\\" in text and text[:1] in "'\"" and text[-1:] == text[:1]:
            raise backslash_path(shown, text) from None  # "C:\Users\...": a \U escape
        if not isinstance(default, str):
            raise InputError(f"{shown}: not a Python literal (expected {_a(type(default))})"
                             ) from None
        if name == "WEIGHTS" and text.startswith("[") and text.endswith("]"):  # [a.pkl,b.pkl]
            raise InputError(f"{shown}: a list of files needs each name quoted, e.g. "
                             f"--{name}='[\"a.pkl\", \"b.pkl\"]'") from None
        value = text  # a bare string, as in --OPTIMISER=adam
    if isinstance(default, str) and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = text  # a file or run named by a number: --PREDICT=7, --NAME=2
    if name in PATHS and isinstance(value, str):
        if "\\" in text and any(ord(ch) < 32 for ch in value):  # "D:\new": \n, a new line
            raise backslash_path(shown, text)
        value = os.path.expanduser(value)  # the shell leaves ~ after --NAME= as it is
    if name in PATHS and isinstance(value, list):  # WEIGHTS: a committee's files
        value = [os.path.expanduser(v) if isinstance(v, str) else v for v in value]
    return coerce(name, value, default, shown)


def backslash_path(shown, text):
    """The InputError for a Windows path in quotes whose backslashes Python read as escapes
    (\\n a new line, \\t a tab, \\U the start of a character's number), with the two ways
    to write it. shown -- where and how the value was given; text -- the value as written."""
    inner = text.strip()
    inner = inner[1:-1] if inner[:1] in "'\"" and inner[-1:] == inner[:1] else inner
    return InputError(f"{shown}: in quotes, a backslash starts an escape (\\n is a new line, "
                      f"\\t a tab), so this is not the path written; write it with forward "
                      f"slashes, \"{inner.replace(chr(92), '/')}\", or as a raw string, "
                      f"r\"{inner}\"")


def _a(kind):
    """'an int', 'a float', 'a str': a type's name with its article."""
    return f"{'an' if kind.__name__[0] in 'aeiou' else 'a'} {kind.__name__}"


def coerce(name, value, default, shown):
    """value if it has the default's type (an int becomes a float where a float is
    expected), else an InputError that starts with `shown`."""
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    allowed = (type(default), *ALSO_ACCEPTS.get(name, ()))
    if type(value) not in allowed:
        hint = ""
        if list in allowed and isinstance(value, tuple):  # --LAYERS=784,100,10: a tuple
            written = repr(list(value)).replace(" ", "")
            hint = (f"; a list is written in brackets, and quoted for the shell: "
                    f"\"--{name}={written}\"" if shown.startswith("--") else
                    f"; a list is written in brackets: {name} = {list(value)!r}")
        raise InputError(
            f"{shown}: expected {' or '.join(t.__name__ for t in allowed)}, "
            f"got {type(value).__name__}{hint}"
        )
    return value


def read_recipe(path):
    """Read a recipe: a file of NAME = literal lines, parsed, never executed.

    Returns a list of (name, text of the value, line number). Raises InputError.
    """
    try:
        with open(path, encoding="utf-8") as f:
            source = f.read()
        with warnings.catch_warnings():  # "D:\data": an invalid escape, said below if it matters
            warnings.simplefilter("ignore", (SyntaxWarning, DeprecationWarning))
            tree = ast.parse(source, filename=path)
    except OSError as e:
        raise InputError(f"{path}: cannot read the recipe ({e.strerror})") from None
    except (UnicodeDecodeError, ValueError):
        raise InputError(f"{path}: not a UTF-8 text file") from None
    except SyntaxError as e:
        if "unicodeescape" in e.msg and e.lineno:  # "C:\Users\...": \U starts an escape
            written = source.splitlines()[e.lineno - 1].strip()
            value = written.partition("=")[2].strip()
            raise backslash_path(f"{path}: line {e.lineno}: {written}", value) from None
        raise InputError(f"{path}: line {e.lineno}: not valid Python ({e.msg})") from None
    pairs = []
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            raise InputError(f"{path}: line {node.lineno}: only NAME = value lines are allowed")
        pairs.append((node.targets[0].id, ast.get_source_segment(source, node.value),
                      node.lineno))
    return pairs


def nearest_name(name, names):
    """The setting a mistyped name most likely meant, or None (difflib's ratio)."""
    upper = {n.upper(): n for n in names}
    if name.upper() in upper:
        return upper[name.upper()]
    close = difflib.get_close_matches(name.upper(), list(names), n=1, cutoff=0.6)
    return close[0] if close else None


def unknown_name(source, name, names):
    """The InputError for a name that is not a setting, with the nearest one."""
    guess = nearest_name(name, names)
    hint = f"; did you mean {guess}?" if guess else " (python main.py --help lists them)"
    return InputError(f"{source}: {name} is not a setting{hint}")


def configure(defaults, argv):
    """The defaults, then recipe files and --NAME=value overrides, in order.

    defaults -- {NAME: value} of main.py's constants; argv -- the command line.
    A bare --NAME sets a True/False setting to True.
    Returns a new dict of every setting. Each change is printed; an unknown
    name (with the nearest one suggested) or a value of the wrong type is an
    InputError. A value that the shell split at a space gets a hint to quote it.
    """
    config = checked_constants(defaults)
    for i, arg in enumerate(argv):
        rest = []  # what follows up to the next --NAME: a value the shell split at spaces
        for following in argv[i + 1:]:
            if following.startswith("--") or following.endswith(".py"):
                break
            rest.append(following)
        if arg.startswith("--"):
            name, sep, text = arg[2:].partition("=")
            if not name:
                raise InputError(f"{arg}: expected --NAME=value")
            if not sep and isinstance(config.get(name), bool):
                text = "True"
            elif not sep:
                if name in config:
                    raise InputError(f"{arg}: expected --{name}=value")
                raise unknown_name(arg, name, config)
            changes, source = [(name, text, None)], f"--{name}"
        elif arg.endswith(".py"):
            changes, source = read_recipe(arg), arg
        else:
            split = i > 0 and argv[i - 1].startswith("--") and "=" in argv[i - 1]
            hint = (f"; if it is the rest of {argv[i - 1]}, the shell split the value at a "
                    f"space: quote it, as in \"{argv[i - 1]} {arg}\"" if split else "")
            raise InputError(f"{arg}: expected --NAME=value or a recipe file ending in .py{hint}")
        for name, text, line in changes:
            where = f"{source}: line {line}" if line else source
            if name not in config:
                raise unknown_name(where, name, config)
            try:
                config[name] = parse_value(name, text, config[name],
                                           f"{where}: {name} = {text}" if line else None)
            except InputError as e:
                if not line and rest:
                    raise InputError(f"{e}; if the value holds a space, quote it: "
                                     f"\"--{name}={text} {' '.join(rest)}\"") from None
                raise
            print(f"{'override' if source.startswith('--') else source}: {name} = {config[name]!r}")
    return config


def checked_constants(defaults):
    """main.py's constants, checked against KINDS: a copy, an int made a float where a
    float is wanted. Raises InputError naming the constant that is missing, unknown (with
    the nearest name) or of the wrong kind."""
    for name in defaults:
        if name not in KINDS:
            raise unknown_name("main.py", name, KINDS)
    missing = [name for name in KINDS if name not in defaults]
    if missing:
        raise InputError(f"main.py: the setting {missing[0]} is missing from the block of "
                         "settings (renamed or deleted?)")
    return {name: coerce(name, value, KINDS[name](), f"main.py: {name} = {value!r}")
            for name, value in defaults.items()}


def described(source):
    """The settings block of main.py's source, as (group, name, comment) rows.

    A comment alone on a line starts a group; a NAME = value line adds a
    setting with the comment at its end. Read with tokenize and ast, so a '#'
    inside a string is not taken for a comment.
    """
    comments = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = (token.start[1], token.string.lstrip("#").strip())
    names = {}
    for node in ast.parse(source).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id.isupper()):
            names[node.lineno] = node.targets[0].id
    rows, group = [], ""
    for line in range(1, max(names, default=0) + 1):
        column, text = comments.get(line, (None, ""))
        if line in names:
            rows.append((group, names[line], text))
        elif column == 0 and text and not text.startswith("-"):
            group = text
    return rows


OUTPUTS = """Outputs: each run writes into RUNS_DIR/<name>/, where <name> is NAME or the
architecture and every setting that differs from the defaults above (e.g.
runs/784-256-128-64-10,OPTIMISER=adam/): settings.json, weights.pkl (the kept
epoch's weights, settings and history), curves.png, confusion.png and
mistakes.png (or predictions.csv for a test file without labels), layers.png,
activations.png and weights.png (inside the network), and while it trains
checkpoint.pkl, which --RESUME continues. Every run adds a row to
RUNS_DIR/log.csv; --RUNS prints it. Exit status: 0 done, 1 --GRADCHECK found a
wrong gradient, 2 bad input, 3 training diverged, 4 an output could not be
written where asked, 5 out of memory, 129 stopped by SIGHUP (a closed terminal),
130 by Ctrl-C, 141 the output closed (| head), 143 by SIGTERM."""


def help_text(doc, source, defaults, outputs=OUTPUTS):
    """The text of --help: the usage docstring, every setting by group, the outputs.

    doc -- main.py's docstring; source -- main.py's text; defaults -- its
    settings; outputs -- a paragraph on where a run writes.
    """
    lines = [doc.strip(), "", "Settings (edit them at the top of main.py, or pass --NAME=value;",
             "a bare --NAME sets a True/False setting to True):"]
    group = None
    for row_group, name, comment in described(source):
        if name not in defaults:
            continue
        if row_group != group:
            group = row_group
            lines.append(f"\n  {group}")
        value = f"{name} = {defaults[name]!r}"
        kind = type(defaults[name]).__name__
        lines.append(f"    {value:<36} {kind:<5} {comment}")
    lines += ["", outputs.strip()]
    return "\n".join(lines) + "\n"


def dropout_rates(dropout, layers):
    """One dropout rate per hidden layer, from a single rate or a list."""
    return list(dropout) if isinstance(dropout, list) else [dropout] * (len(layers) - 2)


def found(path):
    """The file a path names: as it is when it is absolute or there, else the project's file
    of that relative path (a run started from another folder: an IDE's Run button, a cron
    job) when that one is there, else as it is (and its reader says it is missing)."""
    if os.path.isabs(path) or os.path.exists(path):
        return path
    theirs = os.path.join(PROJECT, path)
    return theirs if os.path.exists(theirs) else path


def located(c):
    """A copy of the settings c whose data files (TRAIN_CSV, TEST_CSV, and their labels files
    if any) are found (found), with a line for each one read from the project's folder
    rather than the current one. The settings a run records keep the paths as written, so
    that its name and folder are the same from any folder."""
    c = dict(c)
    for name in ("TRAIN_CSV", "TEST_CSV", "TRAIN_LABELS", "TEST_LABELS"):
        if not c.get(name):
            continue  # no separate labels file
        path = found(c[name])
        if path != c[name]:
            print(f"{name}: {c[name]} is not in the current folder ({os.getcwd()}); "
                  f"reading the project's, {path}")
            c[name] = path
    return c


def compare_entries(c):
    """The settings of each entry of COMPARE, and a label saying how it differs.

    An entry is a layer list (it sets LAYERS) or a dict of settings to
    change, checked like overrides. Returns a list of (label, settings);
    the label names the settings whose values differ between the entries,
    e.g. "BATCH_NORM=True" or "784-100-10, ACTIVATION=tanh". Raises InputError.
    """
    configs = []
    for i, entry in enumerate(c["COMPARE"]):
        where = f"COMPARE[{i}]"
        if isinstance(entry, list):
            entry = {"LAYERS": entry}
        if not isinstance(entry, dict):
            hint = (f"; for one network write COMPARE = [{c['COMPARE']!r}]"
                    if all(isinstance(n, int) for n in c["COMPARE"]) else "")
            raise InputError(f"{where} = {entry!r}: expected a layer list or a dict of "
                             f"settings{hint}")
        config = dict(c, COMPARE=[])
        for name, value in entry.items():
            if not isinstance(name, str) or name not in c:
                raise unknown_name(where, str(name), c)
            if name in NOT_RESULTS:
                raise InputError(f"{where}: {name} cannot change within a comparison")
            if name in SAME_ROWS:
                raise InputError(f"{where}: {name} cannot change within a comparison: its "
                                 "entries share the rows they train, validate and test on "
                                 "(run the two settings as separate runs)")
            config[name] = coerce(name, value, c[name], f"{where}: {name} = {value!r}")
        for j, other in enumerate(configs):
            if other == config:  # entries cannot change what is not a result
                raise InputError(f"{where} trains the same network as COMPARE[{j}]: "
                                 "remove one, or make them differ (a dict of settings)")
        configs.append(config)
    differ = [k for k in c if len({repr(config[k]) for config in configs}) > 1]
    labels = [", ".join(short(k, config[k]) for k in differ) or f"entry {i + 1}"
              for i, config in enumerate(configs)]
    return list(zip(labels, configs))


def short(name, value):
    """A setting as a run's name or a chart's label shows it: 784-100-10, OPTIMISER=adam."""
    if name == "LAYERS":
        return "-".join(str(n) for n in value)
    if name.endswith(("_CSV", "_LABELS")):
        value = os.path.basename(value)  # the folder shows in settings.json
    if isinstance(value, list):
        value = "-".join(str(v) for v in value)
    return f"{name}={value}"


def doubts(c):
    """Settings that work but do not do what they seem to: lines of warning (none if all is
    well). A step schedule whose first drop lies beyond the run keeps the rate constant."""
    lines = []
    if c["SCHEDULE"] == "step" and c["STEP_EPOCHS"] >= c["EPOCHS"]:
        lines.append(f"SCHEDULE = \"step\" drops the learning rate after every STEP_EPOCHS = "
                     f"{c['STEP_EPOCHS']} epochs, and this run has {c['EPOCHS']}: the rate "
                     "never drops (set STEP_EPOCHS below EPOCHS)")
    return lines


# what each command that trains nothing does, in the order main.main takes them
NOT_TRAINING = {"RUNS": "RUNS lists the runs and does nothing else",
                "PREDICT": "PREDICT classifies with saved weights and trains nothing",
                "GRADCHECK": "GRADCHECK checks backward's gradients and trains nothing"}
COMMANDS = (*NOT_TRAINING, "COMPARE", "LIVE", "RESUME")  # the settings that choose what runs

# what RUNS, and PREDICT from a named weights file, read; the rest of the command line is theirs
READ_BY = {"RUNS": {"RUNS", "RUNS_DIR"},
           "PREDICT": {"PREDICT", "WEIGHTS", "TRANSPOSED", "THREADS", "RUNS_DIR", "LAYERS",
                       "ACTIVATION", "BATCH_NORM"}}  # the last three: predict's own note
READ_BY_WHY = {"RUNS": "RUNS lists the runs",
               "PREDICT": "PREDICT reads the network from WEIGHTS and trains nothing"}


def unused(c, argv=()):
    """Settings given that this command will not use: lines of notes (none if all are used).

    main.main takes one command: RUNS, else PREDICT, else GRADCHECK, else
    training (with COMPARE, LIVE, RESUME). A setting of another command is
    then ignored, and WEIGHTS is read by PREDICT and LIVE only: a run never
    starts from a weights file. So are, of the settings given on the command
    line (argv's --NAME=value), those RUNS does not read, and those PREDICT
    does not read when WEIGHTS names the file (training settings otherwise
    name the run whose weights it reads). Saying so keeps a user from
    waiting for something that will not happen.
    """
    command = next((name for name in NOT_TRAINING if c[name]), None)
    if command is None:
        return ([(f"WEIGHTS = {c['WEIGHTS']!r} ignored: it is read by PREDICT and LIVE "
                  "only; this run trains from scratch")] if c["WEIGHTS"] and not c["LIVE"] else [])
    notes = []
    if command == "RUNS" or (command == "PREDICT" and c["WEIGHTS"]):
        given = dict.fromkeys(a[2:].split("=", 1)[0] for a in argv
                              if a.startswith("--") and "=" in a)
        training = [name for name in given if name in KINDS
                    and name not in READ_BY[command] and name not in COMMANDS]
        if training:
            notes.append(f"{', '.join(training)} ignored: {READ_BY_WHY[command]}")
    others = [name for name in COMMANDS if name != command and c[name]]
    if c["WEIGHTS"] and command != "PREDICT":
        others.append("WEIGHTS")
    return notes + [f"{name} ignored: {NOT_TRAINING[command]}" for name in others]


def check(c, quiet=False, argv=()):
    """Refuse settings that cannot work, with a one-line InputError; print a warning for
    each that works but not as it seems (doubts), and a note for each given that this
    command will not use (unused; argv the command line), unless quiet."""
    layers = c["LAYERS"]

    def need(ok, message):
        if not ok:
            raise InputError(message)

    entries = [("LAYERS", c)]
    if c["COMPARE"]:
        entries = [(f"COMPARE[{i}]", config) for i, (_, config) in enumerate(compare_entries(c))]
    for key, config in entries:
        arch = config["LAYERS"]
        where = "" if config is c else f"{key}: "
        need(isinstance(arch, list) and len(arch) >= 2,
             f"{where}LAYERS = {arch!r}: needs at least two layers (input and output)")
        need(all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in arch),
             f"{where}LAYERS = {arch!r}: every width must be a whole number >= 1")
        if config is not c:
            try:
                check(config, quiet=True)
            except InputError as e:
                raise InputError(f"{key}: {e}") from None
    need(c["EPOCHS"] >= 1, f"EPOCHS = {c['EPOCHS']}: must be at least 1")
    need(c["BATCH_SIZE"] >= 1, f"BATCH_SIZE = {c['BATCH_SIZE']}: must be at least 1")
    need(c["BATCH_SIZE"] >= 2 or not c["BATCH_NORM"],
         f"BATCH_SIZE = {c['BATCH_SIZE']}: batch normalisation needs at least 2 rows per batch")
    need(c["LEARNING_RATE"] > 0 and math.isfinite(c["LEARNING_RATE"]),
         f"LEARNING_RATE = {c['LEARNING_RATE']}: must be a number > 0")
    need(c["TRANSPOSED"] in ("", "train", "test", "both"),
         f"TRANSPOSED = {c['TRANSPOSED']!r}: one of train, test, both, or \"\" (none)")
    need(0 <= c["VAL_FRACTION"] < 1, f"VAL_FRACTION = {c['VAL_FRACTION']}: must be in [0, 1)")
    need(0 <= c["MOMENTUM"] < 1, f"MOMENTUM = {c['MOMENTUM']}: must be in [0, 1)")
    need(c["WEIGHT_DECAY"] >= 0, f"WEIGHT_DECAY = {c['WEIGHT_DECAY']}: must be >= 0")
    need(c["MAX_NORM"] >= 0, f"MAX_NORM = {c['MAX_NORM']}: must be >= 0 (0 is off)")
    need(c["MAX_SHIFT"] >= 0, f"MAX_SHIFT = {c['MAX_SHIFT']}: must be >= 0 (0 is off)")
    need(0 <= c["MAX_ROTATE"] <= 180, f"MAX_ROTATE = {c['MAX_ROTATE']}: must be in [0, 180]")
    need(0 <= c["MAX_SCALE"] < 1, f"MAX_SCALE = {c['MAX_SCALE']}: must be in [0, 1)")
    need(0 <= c["ELASTIC_ALPHA"] < math.inf,
         f"ELASTIC_ALPHA = {c['ELASTIC_ALPHA']}: must be a number >= 0 (0 is off)")
    need(0 < c["ELASTIC_SIGMA"] < math.inf,
         f"ELASTIC_SIGMA = {c['ELASTIC_SIGMA']}: must be a number > 0 (pixels; Ciresan et al. used 5-6)")
    need(not isinstance(c["WEIGHTS"], list)
         or (c["WEIGHTS"] and all(isinstance(w, str) and w.strip() for w in c["WEIGHTS"])),
         f"WEIGHTS = {c['WEIGHTS']!r}: a committee is a list of weights files, e.g. "
         "[\"a/weights.pkl\", \"b/weights.pkl\"]")
    need(c["PATIENCE"] >= 0, f"PATIENCE = {c['PATIENCE']}: must be >= 0 (0 is off)")
    need(c["THREADS"] >= 0, f"THREADS = {c['THREADS']}: must be >= 0 (0 chooses from the load)")
    need(c["SEED"] >= 0, f"SEED = {c['SEED']}: must be a whole number >= 0 (NumPy's seeds are)")
    need(0 <= c["LIVE_PORT"] <= 65535,
         f"LIVE_PORT = {c['LIVE_PORT']}: must be a port number 1..65535 (0: any free port)")
    need(c["LIVE_HOST"].strip() != "" and not any(ch.isspace() or ch in "/?#@" for ch in c["LIVE_HOST"]),
         f"LIVE_HOST = {c['LIVE_HOST']!r}: must be an address to listen on, e.g. \"127.0.0.1\"")
    need(c["RUNS_DIR"].strip() != "", "RUNS_DIR = '': must name a folder, e.g. \"runs\"")
    for name in ("TRAIN_CSV", "TEST_CSV"):
        need(c[name].strip() != "", f"{name} = '': must name a CSV file")
    need(not (c["NAME"] and c["COMPARE"]), f"NAME = {c['NAME']!r}: names one run, and the "
         "entries of COMPARE are runs of their own, named after their settings: drop NAME")
    need(len(c["NAME"]) <= 100, f"NAME = {c['NAME'][:20]!r}...: at most 100 characters "
                                 "(it names the run's folder)")
    need(0 <= c["WARMUP_EPOCHS"] < c["EPOCHS"] or c["WARMUP_EPOCHS"] == 0,
         f"WARMUP_EPOCHS = {c['WARMUP_EPOCHS']}: must be in [0, EPOCHS) (a warm-up as long "
         "as the run leaves the schedule no step)")
    need(c["SCHEDULE"] != "step" or c["WARMUP_EPOCHS"] <= c["STEP_EPOCHS"],
         f"WARMUP_EPOCHS = {c['WARMUP_EPOCHS']}: with SCHEDULE=\"step\" at most STEP_EPOCHS "
         f"({c['STEP_EPOCHS']}): the warm-up ramps to the peak rate, so it must end before "
         "the first drop")
    need(c["STEP_EPOCHS"] >= 1, f"STEP_EPOCHS = {c['STEP_EPOCHS']}: must be at least 1")
    need(0 < c["STEP_GAMMA"] <= 1, f"STEP_GAMMA = {c['STEP_GAMMA']}: must be in (0, 1]")
    need(c["ACTIVATION"] in ACTIVATIONS,
         f"ACTIVATION = {c['ACTIVATION']!r}: one of {', '.join(ACTIVATIONS)}")
    need(c["OPTIMISER"] in OPTIMISERS, f"OPTIMISER = {c['OPTIMISER']!r}: one of {', '.join(OPTIMISERS)}")
    need(c["SCHEDULE"] in SCHEDULES, f"SCHEDULE = {c['SCHEDULE']!r}: one of {', '.join(SCHEDULES)}")
    need(c["INIT"] in ("", "he", "glorot"), f"INIT = {c['INIT']!r}: one of he, glorot, or \"\"")
    rates = dropout_rates(c["DROPOUT"], layers)
    need(all(isinstance(p, (int, float)) and 0 <= p < 1 for p in rates),
         f"DROPOUT = {c['DROPOUT']!r}: rates must be in [0, 1)")
    need(len(rates) == len(layers) - 2,
         f"DROPOUT = {c['DROPOUT']!r}: a list needs one rate per hidden layer ({len(layers) - 2})")
    for key, config in entries if not quiet else ():
        for line in doubts(config):
            print(f"warning: {'' if config is c else key + ': '}{line}")
    for line in unused(c, argv) if not quiet else ():
        print(f"note: {line}", file=sys.stderr)


def schedule(c, steps_per_epoch):
    """The learning rate of each step of the run, as a function lr_at(step)."""
    total_steps = c["EPOCHS"] * steps_per_epoch

    def lr_at(step):
        return learning_rate(step, total_steps, c["LEARNING_RATE"], c["SCHEDULE"],
                                   round(c["WARMUP_EPOCHS"] * steps_per_epoch),
                                   c["STEP_EPOCHS"] * steps_per_epoch, c["STEP_GAMMA"])
    return lr_at


def step_options(c):
    """The keyword arguments of utils.train_step that the settings choose."""
    rates = [float(p) for p in dropout_rates(c["DROPOUT"], c["LAYERS"])]
    return {"activation": c["ACTIVATION"], "weight_decay": c["WEIGHT_DECAY"],
            "optimiser": c["OPTIMISER"], "momentum": c["MOMENTUM"],
            "max_norm_c": c["MAX_NORM"], "dropout": rates if any(rates) else None}


def command(c, defaults):
    """The command line that trains the run of settings c: python main.py --LAYERS=... and
    every other setting that shapes the results and differs from the defaults, and
    RUNS_DIR when it differs (where the run's folder will be)."""
    args = [f"--LAYERS={c['LAYERS']!r}".replace(" ", "")]
    for k, v in c.items():
        if (k not in NOT_RESULTS or k == "RUNS_DIR") and k != "LAYERS" and v != defaults.get(k):
            text = v if isinstance(v, str) and v and " " not in v else repr(v).replace(" ", "")
            args.append(f"--{k}={text}")
    return " ".join(["python main.py", *(shlex.quote(a) for a in args)])
