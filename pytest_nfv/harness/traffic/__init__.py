"""Load through the testbed: traffic generators, host B's receiver, the NDR/PDR search.

``generator`` is the protocol and the trial; ``trafgen`` and ``sender`` the two built-in
generators, found by name in ``registry``; ``receiver`` host B's counter; ``trial`` the one
way a trial runs; ``search`` MLRsearch over a generator; ``pair`` the direct path a
generator's ceiling is taken on.
"""
