"""Settings: main.py's constants, changed by recipe files and --NAME=value overrides.

In the spirit of nanoGPT's configurator.py: main.py keeps its settings as
plain constants at its top and hands them here with the command line. Each
override is a Python literal read with ast.literal_eval (a string may go
without quotes), must have the type of the constant it replaces, and is
printed as it is applied. A recipe file holds NAME = literal lines and is
parsed, never executed. check() then refuses values that cannot work.
"""

import ast
import math

from data import InputError
from utils import ACTIVATIONS

ALSO_ACCEPTS = {"DROPOUT": (list,)}  # beyond the type of the default
OPTIMISERS = ("sgd", "momentum", "nesterov", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine")


def parse_value(name, text, default):
    """Turn the text of an override into a value of the default's type.

    An int is accepted where the default is a float. Raises InputError.
    """
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        if not isinstance(default, str):
            raise InputError(
                f"--{name}={text}: not a Python literal (expected a {type(default).__name__})"
            ) from None
        value = text  # a bare string, as in --OPTIMISER=adam
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    allowed = (type(default), *ALSO_ACCEPTS.get(name, ()))
    if type(value) not in allowed:
        raise InputError(
            f"--{name}={text}: expected {' or '.join(t.__name__ for t in allowed)}, "
            f"got {type(value).__name__}"
        )
    return value


def read_recipe(path):
    """Read a recipe: a file of NAME = literal lines, parsed, never executed.

    Returns a list of (name, text of the value). Raises InputError.
    """
    try:
        with open(path, encoding="utf-8") as f:
            source = f.read()
        tree = ast.parse(source, filename=path)
    except OSError as e:
        raise InputError(f"{path}: cannot read the recipe ({e.strerror})") from None
    except (UnicodeDecodeError, ValueError):
        raise InputError(f"{path}: not a UTF-8 text file") from None
    except SyntaxError as e:
        raise InputError(f"{path}: line {e.lineno}: not valid Python ({e.msg})") from None
    pairs = []
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            raise InputError(f"{path}: line {node.lineno}: only NAME = value lines are allowed")
        pairs.append((node.targets[0].id, ast.get_source_segment(source, node.value)))
    return pairs


def configure(defaults, argv):
    """The defaults, then recipe files and --NAME=value overrides, in order.

    defaults -- {NAME: value} of main.py's constants; argv -- the command line
    Returns a new dict of every setting. Each change is printed; an unknown
    name or a value of the wrong type is an InputError.
    """
    config = dict(defaults)
    for arg in argv:
        if arg.startswith("--"):
            name, sep, text = arg[2:].partition("=")
            if not sep:
                raise InputError(f"{arg}: expected --NAME=value")
            changes, source = [(name, text)], "override"
        elif arg.endswith(".py"):
            changes, source = read_recipe(arg), arg
        else:
            raise InputError(f"{arg}: expected --NAME=value or a recipe file ending in .py")
        for name, text in changes:
            if name not in config:
                raise InputError(f"{source}: {name} is not a setting (see the top of main.py)")
            config[name] = parse_value(name, text, config[name])
            print(f"{source}: {name} = {config[name]!r}")
    return config


def dropout_rates(dropout, layers):
    """One dropout rate per hidden layer, from a single rate or a list."""
    return list(dropout) if isinstance(dropout, list) else [dropout] * (len(layers) - 2)


def check(c):
    """Refuse settings that cannot work, with a one-line InputError."""
    layers = c["LAYERS"]

    def need(ok, message):
        if not ok:
            raise InputError(message)

    for key in ["LAYERS", *([f"COMPARE[{i}]" for i in range(len(c["COMPARE"]))])]:
        arch = layers if key == "LAYERS" else c["COMPARE"][int(key[8:-1])]
        need(isinstance(arch, list) and len(arch) >= 2,
             f"{key} = {arch!r}: needs at least two layers (input and output)")
        need(all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in arch),
             f"{key} = {arch!r}: every width must be a whole number >= 1")
    need(c["EPOCHS"] >= 1, f"EPOCHS = {c['EPOCHS']}: must be at least 1")
    need(c["BATCH_SIZE"] >= 1, f"BATCH_SIZE = {c['BATCH_SIZE']}: must be at least 1")
    need(c["BATCH_SIZE"] >= 2 or not c["BATCH_NORM"],
         f"BATCH_SIZE = {c['BATCH_SIZE']}: batch normalisation needs at least 2 rows per batch")
    need(c["LEARNING_RATE"] > 0 and math.isfinite(c["LEARNING_RATE"]),
         f"LEARNING_RATE = {c['LEARNING_RATE']}: must be a number > 0")
    need(0 <= c["VAL_FRACTION"] < 1, f"VAL_FRACTION = {c['VAL_FRACTION']}: must be in [0, 1)")
    need(0 <= c["MOMENTUM"] < 1, f"MOMENTUM = {c['MOMENTUM']}: must be in [0, 1)")
    need(c["WEIGHT_DECAY"] >= 0, f"WEIGHT_DECAY = {c['WEIGHT_DECAY']}: must be >= 0")
    need(c["MAX_NORM"] >= 0, f"MAX_NORM = {c['MAX_NORM']}: must be >= 0 (0 is off)")
    need(c["MAX_SHIFT"] >= 0, f"MAX_SHIFT = {c['MAX_SHIFT']}: must be >= 0 (0 is off)")
    need(0 <= c["MAX_ROTATE"] <= 180, f"MAX_ROTATE = {c['MAX_ROTATE']}: must be in [0, 180]")
    need(0 <= c["MAX_SCALE"] < 1, f"MAX_SCALE = {c['MAX_SCALE']}: must be in [0, 1)")
    need(c["PATIENCE"] >= 0, f"PATIENCE = {c['PATIENCE']}: must be >= 0 (0 is off)")
    need(0 <= c["WARMUP_EPOCHS"] <= c["EPOCHS"],
         f"WARMUP_EPOCHS = {c['WARMUP_EPOCHS']}: must be in [0, EPOCHS]")
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
