"""Every C program pytest-nfv builds at run time, and the one way it builds them.

The sources sit beside this module (the prober, B's echo responder, the traffic sender and
receiver, the ClickOS stand-in's command sender) or, for Algorithm 1's C forms that users
also put into their own images, in ``proxy_vnf/c`` (``relay.c``, ``proxy.c``). ``build``
compiles any of them: into root's private cache for the helpers root runs on the host
(``compiled``), or as static programs a guest builder packs into an initramfs.
"""

from __future__ import annotations

from pytest_nfv.native.gcc import STATIC, build, compiled, native_cache, source

__all__ = ["STATIC", "build", "compiled", "native_cache", "source"]
