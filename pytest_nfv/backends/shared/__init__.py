"""The testbed parts backends use by composition; no backend lives here.

``switch`` (the switch namespace: bridge, prober, hosts A, B and B2), ``addressing`` (the
address plan and MACs), ``dhcp`` (fixed leases on the switch for guests that ask),
``libvirt`` (connection, transient domains, their tags and reap), ``debian_guest`` and
``guest_recipe`` (the stand-in guests' kernel, initramfs and the one recipe pipeline that
builds them), ``responder`` (the echo helper of hosts B and B2),
``parallel`` (an all-or-nothing start of many instances) and ``teardown`` (close every part,
report every failure).

A module here imports no backend package: a backend holds these parts, never another
backend. ``dhcp`` serves only osv today, but it is the switch's service to any guest image
that configures its NIC by DHCP, so it sits beside the switch rather than inside one backend.
"""
