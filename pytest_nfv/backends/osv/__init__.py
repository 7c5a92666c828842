"""The osv backend: VNF instances as QEMU/KVM virtual machines through libvirt.

``backend`` drives them; ``domain`` writes the domain XML; ``guest`` builds the stand-in guest;
``kvm`` decides whether KVM guests really boot on this host.
"""
