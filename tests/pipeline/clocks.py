"""Clocks for tests in which waits take no real time."""

from __future__ import annotations

import threading


class FakeClock:
    """Epoch time that moves only when the code under test sleeps.

    ``sleep`` records the wait and advances ``time`` at once; pass ``clock.time`` and
    ``clock.sleep`` to ``PlatformHttp``.
    """

    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


class SimulatedClock:
    """Epoch time shared by several threads that moves only when all of them sleep.

    When the last running participant calls ``sleep``, time jumps to the earliest
    wake-up among the sleepers. Between a budget check and the server reading the
    clock no time passes, so the server sees the times the budget saw. Each
    participant calls ``leave`` when it ends.
    """

    def __init__(self, participants: int, start: float = 1_800_000_000.0):
        self._now = start
        self._active = participants
        self._wakes: list[float] = []
        self._condition = threading.Condition()

    def time(self) -> float:
        with self._condition:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._condition:
            wake = self._now + max(0.0, seconds)
            self._wakes.append(wake)
            self._advance_if_all_asleep()
            while self._now < wake:
                self._condition.wait()
            self._wakes.remove(wake)

    def leave(self) -> None:
        with self._condition:
            self._active -= 1
            self._advance_if_all_asleep()

    def _advance_if_all_asleep(self) -> None:
        if self._wakes and len(self._wakes) >= self._active:
            self._now = max(self._now, min(self._wakes))
            self._condition.notify_all()
