"""The error every reader raises for what the user brings: one line, exit status 2."""

import os


class InputError(Exception):
    """A problem with the user's input, reported as one line and exit status 2.

    The message names the file, and the line and column where that applies.
    """


def no_such_file(path, kind="file"):
    """The InputError for a path that does not exist, with a hint when its name
    starts or ends with a space (a quoted path with a stray space), when it holds
    backslashes and the same path with slashes exists (a Windows habit), when
    its extension comes twice (a list's two names with no comma between:
    Python joins them), or when the project's folder has it (a run started
    from another folder)."""
    stray = path != path.strip() and os.path.exists(path.strip())
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), path)
    elsewhere = not os.path.isabs(path) and os.path.exists(here)  # run from another folder
    slashed = path.replace("\\", "/")  # a Windows path on a system whose separator is /
    windows = "\\" in path and os.sep == "/" and os.path.exists(slashed)
    ext = os.path.splitext(path)[1].lower()  # ['a.pkl' 'b.pkl']: Python joins the two names
    glued = len(ext) > 1 and path.lower().count(ext) > 1 and not os.path.exists(path)
    return InputError(f"{path}: no such {kind}"
                      + (f" (write the folders with / here: {slashed!r} exists)" if windows else "")
                      + (f" (its name has a stray space; {path.strip()!r} exists)" if stray else "")
                      + (f" (two {ext} names run together? a list needs commas between its "
                         "names: ['a', 'b'])" if glued else "")
                      + (f" in the current folder, {os.getcwd()}; the project's copy is {here}"
                         if elsewhere else ""))


def kind_of_bytes(data):
    """What a file whose first bytes are data is, by its magic number ("a PNG picture",
    "gzip data", ...), for an error message; None when they name no kind known here."""
    kinds = ((b"\x89PNG", "a PNG picture"), (b"\xff\xd8", "a JPEG picture"), (b"GIF8", "a GIF"),
             (b"%PDF", "a PDF"), (b"PK\x03\x04", "a zip archive"), (b"\x1f\x8b", "gzip data"),
             (b"BM", "a BMP picture"), (b"RIFF", "a RIFF file (WebP, WAV)"),
             (b"II*\x00", "a TIFF picture"), (b"MM\x00*", "a TIFF picture"))
    for magic, kind in kinds:
        if data.startswith(magic):
            return kind
    return None
