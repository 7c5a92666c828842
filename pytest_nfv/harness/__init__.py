"""The measuring harness: one round of each experiment, the probes, repetition and budgets.

Built on the backends' protocol, never on a particular backend; knows nothing of pytest.
"""
