"""The VNF programs pytest-nfv runs as processes: Algorithm 1, the echo responder, checksums.

Imported by helper processes started with ``python -m``, so nothing here imports the rest of
the package (pytest, scipy) and pays for it at start-up.
"""
