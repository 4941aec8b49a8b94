"""How a run stops: Ctrl-C, SIGTERM and SIGHUP caught at a safe point, and what it says then.

A signal does not kill the run where it stands: it sets a StopFlag, which
the training loop reads after every batch. The run then keeps the best
weights so far, writes its pictures and its log row, and says how to
continue; a second Ctrl-C aborts at once. A stop button (the live view)
calls StopFlag.request, which acts exactly as Ctrl-C. SIGHUP (an ssh
session dropped, the terminal closed) is taken as SIGTERM is. A standard
output or error that goes away (| head, or tee killed by the same Ctrl-C)
costs nothing either: what the run prints then goes nowhere (guard_output),
and training stops after the batch as if by a signal, SIGPIPE. Signals
can only be caught on Python's main thread: main() called on another thread
(a small web page wrapping the trainer) trains without catching them, and
stopping is the caller's (StopFlag.request). The exit status tells a script
what happened (see exit_status).
"""

import contextlib
import errno
import os
import shlex
import signal
import sys
import threading

import runs
from data import InputError

BATCH = "stopping after this batch"  # what a StopFlag of training says it does
HANGUP = getattr(signal, "SIGHUP", None)  # none on Windows; nohup starts a run ignoring it
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                     if hasattr(signal, name))  # Windows has no SIGHUP
SIGPIPE = int(getattr(signal, "SIGPIPE", 13))  # the output went away: 128 + 13 = 141 (an int:
# a Signals member would not load through runs' safe unpickler from weights.pkl)
_CAUGHT = []  # the StopFlags between catch and release
_LOST = []  # True once the standard output or error went away
_TOLD = []  # True once a run on another thread was told signals are not caught


class StopFlag:
    """Set by Ctrl-C (or SIGTERM, SIGHUP, request, a standard output that went away) so that
    the run stops at the next safe point: after the current batch while training, after its
    results are written once trained."""

    def __init__(self, then=BATCH):
        self.set, self.then, self.signum, self.handlers = False, then, None, {}

    def catch(self):
        """Make Ctrl-C, SIGTERM and SIGHUP set this flag (until release); returns self.

        A signal the process was started ignoring stays ignored: under `nohup`, a
        terminal that closes (SIGHUP) does not stop the run.

        On a thread other than the main one Python cannot catch signals: the flag is
        then set only by request (said once per process). A flag of training
        (then=BATCH) is set at once if the output has already gone away."""
        _CAUGHT.append(self)
        if threading.current_thread() is threading.main_thread():
            self.handlers = {sig: signal.signal(sig, self) for sig in STOP_SIGNALS
                             if not (sig == HANGUP and signal.getsignal(sig) is signal.SIG_IGN)}
        elif not _TOLD:
            _TOLD.append(True)
            print("training on a thread other than the main one: Ctrl-C is the caller's to "
                  "handle (stopping.request_stop() stops the run after its batch)", flush=True)
        if _LOST:
            self.output_lost()
        return self

    def release(self):
        """Give the stop signals back the handlers they had before catch."""
        for sig, handler in self.handlers.items():
            signal.signal(sig, handler)
        if self in _CAUGHT:
            _CAUGHT.remove(self)

    def output_lost(self):
        """The standard output went away: a flag of training stops the run after the batch
        (as by SIGPIPE, unless a signal came first); one of writing the results lets them be
        written whole."""
        if self.then == BATCH and not self.set:
            self.set, self.signum = True, SIGPIPE

    def request(self, reason="asked to stop"):
        """Stop as Ctrl-C does, from code (a stop button); reason is printed."""
        print(f"\n{reason}: {self.then}", flush=True)
        self.set, self.signum = True, self.signum or int(signal.SIGINT)

    def __call__(self, signum, frame):
        what = (f"Ctrl-C: {self.then} (press Ctrl-C again to abort at once)"
                if signum == signal.SIGINT else
                f"the terminal closed (SIGHUP): {self.then}"
                if signum == getattr(signal, "SIGHUP", None) else f"asked to stop: {self.then}")
        self.set, self.signum = True, signum  # before the print, which may find no terminal
        print(f"\n{what}", flush=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)


class Stopped(KeyboardInterrupt):
    """A stop asked for while a run wrote its results, raised once they are whole: an
    interrupt that keeps the signal's number (SIGTERM, SIGHUP, SIGPIPE, Ctrl-C), so the
    exit status is 128 + it as for a stop during training."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = int(signum or signal.SIGINT)


def raise_on_stop_signals():
    """Make SIGTERM and SIGHUP (a kill, a closed terminal, CI cancelling) raise Stopped, a
    KeyboardInterrupt, as Ctrl-C does: a program with no StopFlag of its own (a benchmark)
    then runs its finally blocks and keeps what it can, and exit_code ends it with 128 +
    the signal. A SIGHUP the process was started ignoring (nohup) stays ignored."""
    def stop(signum, frame):
        raise Stopped(signum)
    for sig in STOP_SIGNALS:
        if sig != signal.SIGINT and not (sig == HANGUP and signal.getsignal(sig) is signal.SIG_IGN):
            signal.signal(sig, stop)


def interrupted_status(e):
    """The exit status of a KeyboardInterrupt: 128 + its signal (Stopped's), else 130."""
    return 128 + (e.signum if isinstance(e, Stopped) else int(signal.SIGINT))


@contextlib.contextmanager
def finishing(what):
    """Let a block that writes several outputs end whole: a stop signal meanwhile (Ctrl-C,
    SIGTERM, SIGHUP) says `what` is done first, and is acted on (Stopped) once the block
    ends; a second Ctrl-C still aborts at once. For a run's results (main.run) and
    --PREDICT's predictions and pictures, which would otherwise be left half old, half new.
    (A standard output that goes away sets no such flag: what is written goes on.)"""
    stop = StopFlag(what).catch()
    try:
        yield
    finally:
        stop.release()
    if stop.set:
        raise Stopped(stop.signum)


@contextlib.contextmanager
def signals_held():
    """Hold a Ctrl-C back while the block runs; it acts once the block ends.

    For imports of compiled libraries (matplotlib's font code): a
    KeyboardInterrupt raised inside an extension module's initialisation
    leaves it half made, and the interpreter can then abort ("Fatal Python
    error"). A signal whose handler raises KeyboardInterrupt (Python's
    default for SIGINT) is caught meanwhile by a handler that only notes it,
    and handled as before when the block ends. (Blocking the signal instead,
    signal.pthread_sigmask, would not do: it blocks it for one thread, and
    the kernel hands it to another, such as a BLAS worker.) Handlers a run
    installed (StopFlag's, which raise nothing) are left alone, as is a
    thread other than the main one, where signals cannot be handled.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held, raising = [], {}
    for signum in STOP_SIGNALS:
        if signal.getsignal(signum) is signal.default_int_handler:
            raising[signum] = signal.signal(signum, lambda number, frame: held.append(number))
    try:
        yield
    finally:
        for signum, handler in raising.items():
            signal.signal(signum, handler)
        for signum in held[:1]:  # one Ctrl-C or several: one KeyboardInterrupt
            raising[signum](signum, None)


def request_stop(reason="asked to stop"):
    """Stop every run of this process that is training after its batch, as Ctrl-C does
    (StopFlag.request on each caught flag): for a caller of main.main on another thread,
    whose Ctrl-C the run cannot catch."""
    for flag in _CAUGHT[:]:
        flag.request(reason)


class _Guarded:
    """A text stream (sys.stdout, sys.stderr) whose reader may go away: a write or flush
    that fails for that (EPIPE: | head ended, tee was killed; EIO: the terminal closed)
    sends the stream to os.devnull, tells every caught StopFlag (output_lost), and is not
    an error. Everything else is the stream's own."""

    GONE = (errno.EPIPE, errno.EIO)

    def __init__(self, stream):
        self._stream, self.lost = stream, False

    def _guard(self, action, *args):
        if self.lost:
            return None
        try:
            return action(*args)
        except OSError as e:
            if e.errno not in self.GONE:
                raise
        self.lost = True
        try:  # what is still buffered, and every later write, go nowhere
            os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())
        except (OSError, ValueError):
            pass
        _LOST.append(True)
        for flag in _CAUGHT[:]:  # output_lost changes nothing in it; a copy all the same
            flag.output_lost()
        return None

    def write(self, text):
        self._guard(self._stream.write, text)
        return len(text)

    def flush(self):
        self._guard(self._stream.flush)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def guard_output():
    """Make sys.stdout and sys.stderr survive their reader going away (_Guarded): the run
    then stops after its batch and saves everything, exiting with 141 (or the status of a
    signal that came first). exit_code calls it; main.main alone leaves them as they are."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, _Guarded):
            setattr(sys, name, _Guarded(stream))


def resume_command(argv):
    """The command that continues this one from its checkpoints."""
    return " ".join(["python main.py", *(shlex.quote(a) for a in argv
                                         if not a.startswith("--RESUME")), "--RESUME"])


def exit_status(results, argv):
    """The exit status of the run(s), with a last word on a run that did not finish.

    0 done; 3 the last run diverged; 4 an output could not be written; 128 +
    the signal's number for a stopped run (129 SIGHUP, 130 Ctrl-C or a stop
    button, 141 a standard output that went away, 143 SIGTERM), after saying how to
    continue it.
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
    guard_output()
    try:
        status = main(argv)
        return 128 + SIGPIPE if _LOST and status == 0 else status  # | head: 141 as ever
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
    except KeyboardInterrupt as e:
        print("\ninterrupted", file=sys.stderr)
        return interrupted_status(e)
