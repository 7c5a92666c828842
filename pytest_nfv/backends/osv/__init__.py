"""The osv backend: VNF instances as QEMU/KVM virtual machines through libvirt.

``backend`` drives them (lifecycle, instances, testbed); ``domain`` says what a domain is
and writes its XML; ``consoles`` keeps the serial console logs; ``control`` speaks to the
proxy guest's relay; ``capacity`` answers boot deadlines, how many guests and which budgets
under TCG or KVM; ``memory`` reads the domains' cgroups; ``guest`` builds the stand-in guest;
``image`` reads a user's OSv image; ``kvm`` decides whether KVM guests really boot here.
"""
