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


def test_no_namespace_is_created_from_another_thread() -> None:
    """The name would be bound to /proc/self/ns/net, the main thread's: the host's namespace."""
    import threading

    import pytest

    from pytest_nfv.errors import BackendError
    from pytest_nfv.host.namespaces import inside_new

    raised: list[BaseException] = []

    def create() -> None:
        try:
            with inside_new("nfv-never-created"):
                pass
        except BaseException as exc:
            raised.append(exc)

    worker = threading.Thread(target=create)
    worker.start()
    worker.join()
    assert len(raised) == 1
    with pytest.raises(BackendError, match="other than the main one"):
        raise raised[0]


def test_init_s_namespace_is_spared_by_a_reaper_running_elsewhere() -> None:
    """``cleanup`` in a container of its own network but the host's PID namespace: its own
    namespace is not the host's, and init's is."""
    elsewhere = (0, 7)
    assert without_own_namespace({(0, 1), (0, 2)}, own=elsewhere, init=(0, 1)) == {(0, 2)}
