#!/bin/sh
# pytest-nfv guest init: the NIC up, the relay for the proxy, then the address by DHCP.
guest=nfv-guest
. /lib/nfv/boot.sh
role=vnf; relay=
for word in $(cat /proc/cmdline); do
  case "$word" in
    nfv.role=*) role="${word#nfv.role=}" ;;
    nfv.relay=*) relay="${word#nfv.relay=}" ;;
  esac
done
ip link set lo up
ip link set eth0 up
if [ "$role" = proxy ]; then
  /bin/nfv-relay $(echo "$relay" | tr , ' ') &
fi
export role
udhcpc -i eth0 -f -q -n -t 60 -T 1 -s /bin/nfv-dhcp >/dev/null 2>&1 ||
  echo "nfv-guest: up without an address (no DHCP lease) role $role"
while :; do sleep 3600; done
