"""The ``pytest-nfv`` command: run the packaged suites, clean up, compare runs, draw reports.

``main`` parses the command line and hands each sub-command to its module (``cleanup``,
``compare``, ``report``). Exit statuses are what a CI step needs, the same for every command:
0 done and nothing wrong; 1 done and something is (a regression, a resource that could not be
removed); 2 the command could not do its work (missing or corrupt file, different hosts
refused, missing privileges, bad option), said in one line, never a traceback and never a
pass.
"""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
