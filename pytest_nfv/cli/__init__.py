"""The ``pytest-nfv`` command: run the packaged suites, clean up, compare runs, draw reports."""
