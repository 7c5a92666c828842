"""A name bound to the harness's own network namespace is never a run's to empty."""

from __future__ import annotations

import os

from pytest_nfv.host.namespaces import without_own_namespace


def test_the_harness_namespace_is_left_out() -> None:
    own = (1, 4026531833)
    ours = {(1, 4026532248), (1, 4026532319)}
    assert without_own_namespace(ours | {own}, own) == ours


def test_own_namespace_is_read_from_proc_when_not_given() -> None:
    st = os.stat(f"/proc/{os.getpid()}/ns/net")
    own = (st.st_dev, st.st_ino)
    assert without_own_namespace({own, (0, 1)}) == {(0, 1)}
