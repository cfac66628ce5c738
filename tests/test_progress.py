"""Progress of long loops: a bar on a terminal, rate-bounded log lines in a rule's log file."""
import io
import logging

import pytest
from tqdm import tqdm

from v1twin.progress import LoggedProgress, progress_bar


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def lines(caplog):
    caplog.set_level(logging.INFO, logger="v1twin.progress")
    return lambda: [record.getMessage() for record in caplog.records]


def test_lines_come_at_most_every_interval_plus_the_last_item(lines) -> None:
    clock = FakeClock()
    for _ in LoggedProgress(range(10), desc="search", unit="batch", interval=30, clock=clock):
        clock.now += 12  # each item takes 12 s: 30 s after a line, the third item brings the next
    assert lines() == [
        "search: 3/10 batch (30%), 0.08 batch/s, elapsed 00:36, ETA 01:24",
        "search: 6/10 batch (60%), 0.08 batch/s, elapsed 01:12, ETA 00:48",
        "search: 9/10 batch (90%), 0.08 batch/s, elapsed 01:48, ETA 00:12",
        "search: 10/10 batch (100%), 0.08 batch/s, elapsed 02:00, ETA 00:00",
    ]


def test_fast_loop_logs_only_its_end_and_an_inner_loop_not_even_that(lines) -> None:
    clock = FakeClock()
    for _ in LoggedProgress(range(40), desc="outer", interval=60, clock=clock):
        for _ in LoggedProgress(range(5), desc="inner", leave=False, interval=60, clock=clock):
            clock.now += 0.25
    assert lines() == ["outer: 40/40 it (100%), 0.80 it/s, elapsed 00:50, ETA 00:00"]


def test_manual_updates_resumed_count_postfix_and_byte_units(lines) -> None:
    clock = FakeClock()
    with LoggedProgress(total=100, initial=40, desc="training", unit="epoch", interval=10, clock=clock) as bar:
        clock.now += 20
        bar.set_postfix(val_corr="0.3100")
        bar.update(10)  # the rate counts this process's epochs only, not the 40 it resumed after
    with LoggedProgress(desc="m1.zip", unit="B", unit_scale=True, interval=10, clock=clock) as download:
        clock.now += 4
        download.update(3_000_000)  # no Content-Length: no total, no ETA
    assert lines() == ["training: 50/100 epoch (50%), 0.50 epoch/s, elapsed 00:20, ETA 01:40, val_corr=0.3100",
                       "m1.zip: 3.00M B, 750k B/s, elapsed 00:04"]


def test_bar_on_a_terminal_and_log_lines_elsewhere(monkeypatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stderr", Terminal())
    assert isinstance(progress_bar(range(3), desc="x"), tqdm)
    monkeypatch.setattr("sys.stderr", io.StringIO())  # e.g. a rule's log file
    assert isinstance(progress_bar(range(3), desc="x"), LoggedProgress)
