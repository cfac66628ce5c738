"""Progress of long loops: a tqdm bar on a terminal, progress lines in a rule's log file.

tqdm draws its bar with carriage returns and, told `disable=None`, switches itself off when stderr is
not a terminal, so a rule log (where `files.rule_log` sends stderr) stayed silent for hours. There,
`LoggedProgress` writes lines such as `Gabor search m1: 120/512 it (23%), 4.10 it/s, elapsed 00:29,
ETA 01:36` through `logging`, at most one every `interval` seconds plus one when the loop ends.
"""
import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator

from tqdm import tqdm

log = logging.getLogger(__name__)

LOG_INTERVAL = 60.0  # seconds between two progress lines of one loop


def progress_bar(iterable: Iterable | None = None, **options) -> "tqdm | LoggedProgress":
    """tqdm(iterable, **options) on a terminal, else LoggedProgress(iterable, **options).

    Options: desc, total, unit, unit_scale, initial, leave (those LoggedProgress understands).
    """
    if sys.stderr.isatty():
        return tqdm(iterable, **options)
    return LoggedProgress(iterable, **options)


class LoggedProgress:
    """tqdm's counting (iterate, or `update(n)`; `set_postfix`; a context manager) as log lines.

    A loop with `leave=False` (tqdm's mark of an inner loop, e.g. the steps of one epoch) logs no
    closing line, so the outer loop's lines are not drowned.
    """

    def __init__(self, iterable: Iterable | None = None, desc: str = "", total: float | None = None,
                 unit: str = "it", unit_scale: bool = False, initial: float = 0, leave: bool = True,
                 interval: float = LOG_INTERVAL, clock: Callable[[], float] = time.monotonic):
        if total is None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.iterable, self.desc, self.total, self.unit = iterable, desc, total, unit
        self.unit_scale, self.leave, self.interval, self.clock = unit_scale, leave, interval, clock
        self.n = self.initial = self.logged = initial
        self.start = self.last_line = clock()
        self.postfix = ""
        self.closed = False

    def __iter__(self) -> Iterator:
        try:
            for item in self.iterable:
                yield item
                self.update()
        finally:
            self.close()

    def __enter__(self) -> "LoggedProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def update(self, n: float = 1) -> None:
        self.n += n
        now = self.clock()
        if now - self.last_line >= self.interval:
            self._line(now)

    def set_postfix(self, **values) -> None:
        self.postfix = ", ".join(f"{key}={value}" for key, value in values.items())

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.leave and self.n != self.logged:
                self._line(self.clock())

    def _count(self, value: float) -> str:
        return tqdm.format_sizeof(value) if self.unit_scale else str(value)

    def _line(self, now: float) -> None:
        self.last_line, self.logged = now, self.n
        elapsed = now - self.start
        rate = (self.n - self.initial) / elapsed if elapsed > 0 else 0.0
        if self.total:
            done = f"{self._count(self.n)}/{self._count(self.total)} {self.unit} ({100 * self.n / self.total:.0f}%)"
        else:
            done = f"{self._count(self.n)} {self.unit}"
        speed = tqdm.format_sizeof(rate) if self.unit_scale else f"{rate:.2f}"
        parts = [done, f"{speed} {self.unit}/s", f"elapsed {tqdm.format_interval(elapsed)}"]
        if self.total and rate > 0:
            parts.append(f"ETA {tqdm.format_interval((self.total - self.n) / rate)}")
        if self.postfix:
            parts.append(self.postfix)
        log.info("%s: %s", self.desc, ", ".join(parts))
