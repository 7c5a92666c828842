"""A backend's ``close``: every step runs, whatever failed before it, and all failures count.

A backend tears down in order (instances, then shared infrastructure, then the sweep of
what it lost track of); a refusal at one step must not leave the later ones undone, or one
stuck domain would leave the run's switch and namespaces behind as well. So each step's
``BackendError`` is noted and the next step runs; ``finish`` reports them together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pytest_nfv.errors import BackendError

__all__ = ["Teardown"]


class Teardown:
    """The failures of one backend's ``close``, gathered step by step.

    Args:
        backend: the backend's name, for the final error.
    """

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.errors: list[str] = []

    def step(self, action: Callable[[], object]) -> None:
        """Run ``action``; its ``BackendError`` is noted, not raised."""
        try:
            action()
        except BackendError as exc:
            self.errors.append(str(exc))

    def note(self, errors: Iterable[str]) -> None:
        """Count failures a step reported rather than raised (a reap's ``errors``)."""
        self.errors += errors

    def finish(self) -> None:
        """Raise what failed, if anything did.

        Raises:
            BackendError: naming every failed step.
        """
        if self.errors:
            raise BackendError(f"{self.backend} teardown incomplete: " + "; ".join(self.errors))
