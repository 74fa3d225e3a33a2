"""The running estimate of an oracle's solve time per instance, kept on the
oracle itself (and dropped when it is pickled)."""

from __future__ import annotations


class _Stats:
    """Running estimate of an oracle's solve time per instance."""

    __slots__ = ("seconds_per_instance",)

    def __init__(self):
        self.seconds_per_instance: float | None = None

    def update(self, seconds: float, count: int) -> None:
        if count <= 0:
            return
        sample = seconds / count
        current = self.seconds_per_instance
        if current is None or sample < 0.25 * current:
            # First sample, or a much cheaper one: one-off start-up costs (a
            # compiled kernel loading on the first call) must not keep a cheap
            # oracle on the pool for dozens of calls, so the estimate drops at once.
            self.seconds_per_instance = sample
        else:  # otherwise a moving average, robust to one slow call
            self.seconds_per_instance = 0.7 * current + 0.3 * sample


def _stats(oracle) -> _Stats:
    stats = oracle.__dict__.get("_stats")
    if stats is None:
        stats = oracle.__dict__["_stats"] = _Stats()
    return stats
