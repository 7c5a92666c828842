"""The stand-in for a ClickOS image: a Linux PV guest whose init speaks ClickOS's protocol.

A ClickOS image (MiniOS + Click) cannot be built here; this guest lets the clickos backend
meet a real Xen toolstack all the same (``guest`` builds it, ``init.sh`` is its ``/init``).
"""
