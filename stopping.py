"""How a run stops: Ctrl-C and SIGTERM caught at a safe point, and what the run says then.

A signal does not kill the run where it stands: it sets a StopFlag, which
the training loop reads after every batch. The run then keeps the best
weights so far, writes its pictures and its log row, and says how to
continue; a second Ctrl-C aborts at once. A stop button (the live view)
calls StopFlag.request, which acts exactly as Ctrl-C. The exit status
tells a script what happened (see exit_status).
"""

import os
import shlex
import signal
import sys

import runs
from data import InputError


class StopFlag:
    """Set by Ctrl-C (or SIGTERM, or request) so that the run stops at the next safe point:
    after the current batch while training, after its results are written once trained."""

    def __init__(self, then="stopping after this batch"):
        self.set, self.then, self.signum, self.handlers = False, then, None, {}

    def catch(self):
        """Make Ctrl-C and SIGTERM set this flag (until release); returns self."""
        self.handlers = {sig: signal.signal(sig, self) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def release(self):
        """Give Ctrl-C and SIGTERM back the handlers they had before catch."""
        for sig, handler in self.handlers.items():
            signal.signal(sig, handler)

    def request(self, reason="asked to stop"):
        """Stop as Ctrl-C does, from code (a stop button); reason is printed."""
        print(f"\n{reason}: {self.then}", flush=True)
        self.set, self.signum = True, self.signum or signal.SIGINT

    def __call__(self, signum, frame):
        what = (f"Ctrl-C: {self.then} (press Ctrl-C again to abort at once)"
                if signum == signal.SIGINT else f"asked to stop: {self.then}")
        print(f"\n{what}", flush=True)
        self.set, self.signum = True, signum
        signal.signal(signal.SIGINT, signal.default_int_handler)


def resume_command(argv):
    """The command that continues this one from its checkpoints."""
    return " ".join(["python main.py", *(shlex.quote(a) for a in argv
                                         if not a.startswith("--RESUME")), "--RESUME"])


def exit_status(results, argv):
    """The exit status of the run(s), with a last word on a run that did not finish.

    0 done; 3 the last run diverged; 4 an output could not be written; 128 +
    the signal's number for a stopped run (130 Ctrl-C or a stop button, 143
    SIGTERM), after saying how to continue it.
    """
    last = results[-1]
    if last["status"] == "diverged":
        print(f"error: {last['folder']}: training diverged; start again with a lower "
              f"LEARNING_RATE than {last['config']['LEARNING_RATE']}", file=sys.stderr)
        return 3
    if last["status"] == "stopped":
        saved = "the best weights so far are saved; " if last["saved"] else ""
        print(f"stopped; {saved}" + (f"to continue: {resume_command(argv)}"
                                      if runs.has_checkpoint(last["folder"]) else
                                      "no epoch had finished, so there is nothing to resume"))
        return 128 + (last.get("signum") or signal.SIGINT)
    return 4 if any(not r["written"] for r in results) else 0


def exit_code(main, argv):
    """Run main(argv) and return its exit status, turning what went wrong into one line.

    2 bad input (InputError: the line names the file), 4 an output could not
    be written (a full disk, a folder gone), 5 out of memory, 130 Ctrl-C
    while loading or a second Ctrl-C, 141 the reader of the output went away
    (| head): never a traceback for these.
    """
    try:
        return main(argv)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader of the output went away (| head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as e:  # a full disk or a folder that went away while writing
        where = f"{e.filename}: could not be written" if e.filename else "writing failed"
        print(f"error: {where} ({e.strerror or e})", file=sys.stderr)
        return 4
    except MemoryError as e:  # what machine.check_memory's estimate did not foresee
        print(f"error: out of memory ({' '.join(str(e).split()) or 'MemoryError'}); try fewer "
              "or narrower LAYERS, or a smaller BATCH_SIZE", file=sys.stderr)
        return 5
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
