"""The coreos backend: VNF instances as Docker containers, the proxy VNF as iptables rules.

``backend`` drives them; ``engine`` connects to Docker, labels and reaps; ``image`` builds the
instance image locally.
"""
