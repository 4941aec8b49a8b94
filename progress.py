"""A progress line within an epoch, in the terminal: a watcher of main.py's training loop.

When an epoch has run for more than DELAY seconds, a line shows the
batches done, the running loss and the time left in it, redrawn in place
(a carriage return) at most every REDRAW seconds, and wiped at the epoch's
last batch, before the epoch's own line is printed. The cursor stays at the
line's start, so whatever is printed meanwhile writes over it. Only on a terminal: when the output goes to a
file or a pipe, nothing is written, so logs hold the epoch lines alone.

A few lines rather than tqdm: the loop already counts its batches, and a
dependency for one line that it must also keep out of logs would not earn
its place.
"""

import shutil
import sys
import time

DELAY = 2.0  # seconds into an epoch before the line appears: short epochs never show it
REDRAW = 0.2  # seconds between two redraws


class Progress:
    """The watcher: step(done, total, loss) after every training step (the protocol's)."""

    def __init__(self, out=None, tty=None):
        self.out = out or sys.stdout
        self.tty = self.out.isatty() if tty is None else tty
        self.started = None  # when the current epoch's first step was taken
        self.next = 0.0
        self.loss_sum, self.steps = 0.0, 0
        self.shown = 0  # characters of the line on the screen, 0 when none

    def step(self, done, total, loss):
        """Count the step; draw the line when it is due; wipe it after the epoch's last."""
        if not self.tty:
            return
        now = time.perf_counter()
        if done == 1 or self.started is None:
            self.started, self.next, self.loss_sum, self.steps = now, now + DELAY, 0.0, 0
        self.loss_sum += loss
        self.steps += 1
        if done >= total - 1:  # (batch normalisation may skip a last batch of one row)
            self.wipe()
            self.started = None if done >= total else self.started
        elif now >= self.next and done > 1 and now > self.started:
            self.next = now + REDRAW
            rate = (done - 1) / (now - self.started)  # steps since the first one ended
            left = (total - done) / rate
            self.draw(f"  batch {done}/{total}  running loss {self.loss_sum / self.steps:.4f}  "
                      f"{left:.0f}s left in this epoch")

    def draw(self, text):
        """Write text over the line shown (cut to the terminal's width)."""
        width = shutil.get_terminal_size((80, 24)).columns - 1
        text = text[:width]
        self.out.write("\r" + text.ljust(self.shown) + "\r")  # what is printed next overwrites it
        self.out.flush()
        self.shown = len(text)

    def wipe(self):
        """Clear the line, so what is printed next starts on an empty one."""
        if self.shown:
            self.out.write("\r" + " " * self.shown + "\r")
            self.out.flush()
            self.shown = 0

    def epoch(self, history):
        """The epoch ended (stopped early, say, before its last batch): no line left over."""
        self.wipe()
        self.started = None

    def end(self, result):
        """The run ended: no line left over."""
        self.wipe()
