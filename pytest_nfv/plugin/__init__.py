"""The pytest plugin: options, hooks, fixtures and the record; the only layer that knows pytest.

``hooks`` is the entry point (``pytest11``); it registers ``fixtures`` and, with
``--nfv-compare``, ``gate``; what they share lives in ``config.stash`` under ``state``'s keys.
Measuring is the harness's business, judging saved runs the analysis package's.
"""
