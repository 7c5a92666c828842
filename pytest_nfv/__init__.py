"""pytest-nfv: benchmark NFV virtualization backends as pytest suites."""
