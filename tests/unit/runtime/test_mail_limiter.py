"""The mail rate limiter on a fake clock: windows, holding, summaries, release and drain."""

from __future__ import annotations

from ldirectord.config.model import DaemonState
from ldirectord.runtime.mail.limiter import HELD_LIMIT, Admission, RateLimiter
from ldirectord.runtime.mail.message import Mail, Route
from tests.unit.runtime.fakeclock import FakeClock

ROUTE = Route("ops@example.com", None, frozenset(DaemonState), None, None, "tcp:x")
A = ("service", "10.0.0.2:80")
B = ("service", "10.0.0.3:80")
EPOCH = 1796544630.0  # the wall time the stamps start from


def mail(text: str) -> Mail:
    return Mail(ROUTE, text, DaemonState.RUNNING)


class Setup:
    """A limiter of 60 s, a fake monotonic clock and a wall clock that follows it."""

    def __init__(self, interval: float = 60.0) -> None:
        self.clock = FakeClock(1000.0)
        self.limiter = RateLimiter(interval)

    @property
    def wall(self) -> float:
        return EPOCH + self.clock.now() - 1000.0

    def at(self, t: float) -> float:
        self.clock.t = t
        return self.clock.now()

    def offer(self, key: object, text: str, t: float) -> Admission:
        return self.limiter.offer(key, mail(text), self.at(t), self.wall)


def test_the_first_mail_of_a_key_goes_and_opens_its_window() -> None:
    s = Setup()
    assert s.offer(A, "down", 1000.0) is Admission.SEND
    assert s.offer(A, "up", 1010.0) is Admission.HELD_FIRST
    assert s.offer(A, "down", 1020.0) is Admission.HELD
    assert s.offer(B, "down", 1020.0) is Admission.SEND  # another key: its own window


def test_a_window_that_ends_sends_one_summary_of_the_latest_state() -> None:
    s = Setup()
    s.offer(A, "down", 1000.0)
    s.offer(A, "up", 1005.0)
    s.offer(A, "down again", 1010.0)
    assert s.limiter.ended(s.at(1059.9)) == []
    [summary] = s.limiter.ended(s.at(1060.0))
    assert summary.text == "down again"
    assert summary.held == ((EPOCH + 5, "up"), (EPOCH + 10, "down again"))
    assert (summary.held_dropped, summary.rate_interval) == (0, 60.0)
    # The summary opened a new window: what comes next is held again.
    assert s.offer(A, "up", 1061.0) is Admission.HELD_FIRST


def test_a_window_with_nothing_held_just_closes() -> None:
    s = Setup()
    s.offer(A, "down", 1000.0)
    assert s.limiter.ended(s.at(1060.0)) == []
    assert s.offer(A, "up", 1061.0) is Admission.SEND


def test_a_summary_lists_the_first_transitions_and_the_latest() -> None:
    s = Setup()
    s.offer(A, "mailed", 1000.0)
    for i in range(HELD_LIMIT + 5):
        s.offer(A, f"held {i}", 1001.0 + i)
    [summary] = s.limiter.ended(s.at(1060.0))
    texts = [text for _, text in summary.held]
    assert len(texts) == HELD_LIMIT
    assert texts[:-1] == [f"held {i}" for i in range(HELD_LIMIT - 1)]
    assert texts[-1] == summary.text == f"held {HELD_LIMIT + 4}"
    assert summary.held_dropped == 5


def test_release_sends_the_held_summary_now() -> None:
    s = Setup()
    assert s.limiter.release(A, s.at(1000.0)) is None  # no window
    s.offer(A, "down", 1000.0)
    assert s.limiter.release(A, s.at(1010.0)) is None  # a window, nothing held
    s.offer(A, "up", 1020.0)
    released = s.limiter.release(A, s.at(1030.0))
    assert released is not None and released.text == "up"
    # The window restarted at the release: it ends 60 s after it, not after the first mail.
    s.offer(A, "down", 1040.0)
    assert s.limiter.ended(s.at(1089.0)) == []
    assert [m.text for m in s.limiter.ended(s.at(1090.0))] == ["down"]


def test_drain_gives_every_held_summary_and_forgets_the_windows() -> None:
    s = Setup()
    s.offer(A, "a down", 1000.0)
    s.offer(A, "a up", 1001.0)
    s.offer(B, "b down", 1002.0)
    assert [m.text for m in s.limiter.drain()] == ["a up"]
    assert s.offer(A, "a down", 1003.0) is Admission.SEND
    assert s.offer(B, "b up", 1003.0) is Admission.SEND


def test_an_interval_of_zero_lets_everything_through() -> None:
    s = Setup(interval=0.0)
    assert [s.offer(A, "x", 1000.0) for _ in range(3)] == [Admission.SEND] * 3
    assert s.limiter.ended(s.at(1000.0)) == []
    assert s.limiter.drain() == []
