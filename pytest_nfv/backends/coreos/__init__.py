"""The coreos backend: VNF instances as Docker containers, the proxy VNF as iptables rules.

``backend`` drives them (the engine connection, the network, the instances' plan and start);
``containers`` creates, pins and removes the run's containers; ``probe`` is the prober's
container; ``testbed`` runs hosts A, B, B2 and the proxy; ``memory`` reads what the
containers cost; ``engine`` connects to Docker, labels and reaps; ``image`` builds the
instance image locally.
"""
