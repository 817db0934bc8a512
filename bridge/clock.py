"""An injectable clock: production reads time.time(); tests travel in time."""
from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    def __init__(self, fixed: float | None = None):
        self._offset = 0.0
        self._fixed = fixed

    def now(self) -> float:
        return (self._fixed if self._fixed is not None else time.time()) + self._offset

    def today(self):
        return datetime.fromtimestamp(self.now(), UTC).date()

    def advance(self, seconds: float) -> None:
        self._offset += seconds

    def set(self, epoch: float) -> None:
        self._fixed, self._offset = epoch, 0.0
