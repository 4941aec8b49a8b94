"""What a run prints never costs it anything: text the terminal's encoding cannot show.

Output redirected on Windows is encoded in the legacy code page (cp1252),
which has no Chinese, no Greek and no bytes a file name could not decode;
Python's default there is to raise UnicodeEncodeError at the first such
character, so a message naming a file 数字7.png would end the run. Here
such characters print as escapes instead (\\u6570, \\udcff), on both
standard output and standard error.
"""

import sys


def protect_output():
    """Make sys.stdout and sys.stderr write characters their encoding lacks as backslash
    escapes rather than raise UnicodeEncodeError (io.TextIOWrapper.reconfigure). Streams
    that cannot be reconfigured (a StringIO a caller put there), or already forgiving, are
    left as they are."""
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) != "strict":
            continue  # surrogateescape already writes undecodable bytes back as they were
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):
            pass
