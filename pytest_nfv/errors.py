"""One error hierarchy for everything pytest-nfv raises.

The tree, so that callers can catch at the level they care about::

    NfvError                          root: anything pytest-nfv raises on purpose
    ├── NfvUsageError                 bad option, ini value or budget file (-> pytest.UsageError)
    │   └── BudgetFileError           malformed or unknown key in a budgets TOML (file:line:key)
    ├── BackendUnavailable            this host cannot run the backend (-> skip, or fail if strict)
    ├── BackendError                  the engine refused or failed an operation
    │   └── BootTimeout               instances did not answer ICMP echo in time
    ├── ProbeError                    a measurement could not be taken
    ├── TrafficError                  a load trial failed: its sender or receiver died, hung or
    │                                 could not start (the round fails, not the session)
    ├── HistoryError                  a saved run cannot be read or compared (names the file)
    └── BudgetExceeded                a measured figure broke its budget (also an AssertionError,
                                      so pytest reports it as a test failure, not an error)

Engines' own exceptions (netlink, Docker, libvirt) never cross a backend's boundary: the backend
translates them with ``raise BackendError(...) from exc`` so the cause stays in the traceback.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "BackendUnavailable",
    "BootTimeout",
    "BudgetExceeded",
    "BudgetFileError",
    "HistoryError",
    "NfvError",
    "NfvUsageError",
    "ProbeError",
    "TrafficError",
]


class NfvError(Exception):
    """Root of every error pytest-nfv raises on purpose."""


class NfvUsageError(NfvError):
    """The user asked for something invalid; reported as ``pytest.UsageError`` before any start."""


class BudgetFileError(NfvUsageError):
    """A budgets file is malformed; the message names the file, the line and the key."""


class BackendUnavailable(NfvError):
    """This host cannot run the backend; the message says what was probed and what is missing.

    Turned into a skip with that message, or into a failure under ``--nfv-strict`` so that a
    runner which lost its hypervisor cannot pass silently.
    """


class BackendError(NfvError):
    """The engine failed an operation the backend asked of it."""


class BootTimeout(BackendError):
    """Some instances never answered an ICMP echo within the allowed time."""


class ProbeError(NfvError):
    """A measurement could not be taken (socket refused, peer silent, no samples)."""


class TrafficError(NfvError):
    """A traffic trial could not be run or counted: the generator or host B's receiver failed.

    Raised within a deadline, never after a hang: a dead receiver fails the trial (and the
    round that ran it) with what it was doing and how it exited.
    """


class HistoryError(NfvError):
    """A saved run is missing, corrupt or not comparable; the message names the file.

    The regression gate turns it into a usage error (exit status 2), never into a pass.
    """


class BudgetExceeded(NfvError, AssertionError):
    """A measured figure is over its budget; the message is the one line a CI log should show."""
