#!/bin/sh
# pytest-nfv guest init: the NIC up, the relay for the proxy, then the address by DHCP.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
for m in @MODULES@; do
  insmod /lib/modules/$m.ko || echo "nfv-guest: insmod $m failed"
done
role=vnf; relay=
for word in $(cat /proc/cmdline); do
  case "$word" in
    nfv.role=*) role="${word#nfv.role=}" ;;
    nfv.relay=*) relay="${word#nfv.relay=}" ;;
  esac
done
echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6
echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6
echo 0 > /proc/sys/net/ipv4/conf/all/send_redirects
echo 0 > /proc/sys/net/ipv4/conf/default/send_redirects
echo 0 > /proc/sys/net/ipv4/conf/all/accept_redirects
ip link set lo up
ip link set eth0 up
if [ "$role" = proxy ]; then
  /bin/nfv-relay $(echo "$relay" | tr , ' ') &
fi
export role
udhcpc -i eth0 -f -q -n -t 60 -T 1 -s /bin/nfv-dhcp >/dev/null 2>&1 ||
  echo "nfv-guest: up without an address (no DHCP lease) role $role"
while :; do sleep 3600; done
