"""Xen dom0 plumbing for the clickos backend: host probe, xenstore control, libvirt domains."""
