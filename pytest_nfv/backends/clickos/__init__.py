"""The clickos backend: VNF instances as Xen domains running Click configurations.

``backend`` drives them; ``click`` parses, checks and renders Click configurations; ``xen``
holds the dom0 side (xenstore control, the dom0 bridge, host probes, domains).
"""
