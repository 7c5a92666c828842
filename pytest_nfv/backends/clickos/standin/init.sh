#!/bin/sh
# pytest-nfv's stand-in for a ClickOS domain (MiniOS + Click), as a Linux PV guest's /init.
#
# It speaks ClickOS's control protocol exactly as the clickos backend drives a ClickOS image
# (pytest_nfv/backends/clickos/xen/xenstore.py; MiniOS's click.cc on the guest side):
# - at boot it creates /local/domain/<id>/data/clickos and watches it;
# - writing "Running" to <r>/status starts router <r>: its configuration is read from the
#   chunks <r>/config/0..n; "Halted" stops it;
# - a write to <r>/elements/target/switch (the proxy's Switch element) chooses host B (0) or
#   B2 (1), the way a ClickOS write handler changes a running configuration.
# What the configuration asks for is done by Linux and the project's C proxy instead of Click:
# an "instance" answers ARP and ICMP echo on the address its ARPResponder names (the guest's
# kernel answers, once the configuration runs and not before); the "proxy" runs Algorithm 1
# on raw frames with nfv-proxy (proxy_vnf/c/proxy.c), fed the addresses the configuration
# names. Lines on the console start with "nfv-standin:" for the boot log.
guest=nfv-standin
. /lib/nfv/boot.sh
mkdir -p /proc/xen && mount -t xenfs xenfs /proc/xen 2>/dev/null
# Click sends no ICMP errors: the kernel must not answer the datagrams nfv-proxy takes off
# the wire with port-unreachable (echo replies are not rate-limited, so they still go out).
echo 0 > /proc/sys/net/ipv4/icmp_msgs_burst
echo 0 > /proc/sys/net/ipv4/icmp_msgs_per_sec
# nfv-proxy asks for a 4 MiB receive buffer on its packet socket, which the kernel caps at
# rmem_max (208 KiB, doubled: room for under two 64 KiB datagrams of 45 page-sized fragments
# each) -- little when the proxy is slow to read under emulation.
echo 4194304 > /proc/sys/net/core/rmem_max
ip link set lo up
CONTROL_PORT=7777
domid=$(xenstore-read domid)
root=/local/domain/$domid/data/clickos
xenstore-write "$root" "" || echo "nfv-standin: cannot create $root"
echo "nfv-standin: domain $domid announced at $root"

. /lib/nfv-standin/fields.sh

config_of() {  # the router's configuration, its chunks joined (newlines dropped)
  i=0
  while xenstore-read "$root/$1/config/$i" > /tmp/chunk 2>/dev/null; do
    tr -d '\n' < /tmp/chunk
    i=$((i + 1))
  done
}

start_router() {
  config=$(config_of "$1")
  name=$(xenstore-read "$root/$1/config_name")
  own=$(own_address "$config")
  if [ -z "$own" ]; then
    echo "nfv-standin: router $1 ($name) names no ARPResponder address"
    return
  fi
  ip addr add "$own/32" dev eth0
  if [ "$name" = proxy ]; then
    a=$(proxy_host "$config" a)
    b=$(proxy_host "$config" b)
    b2=$(proxy_host "$config" b2)
    echo "$b" > /tmp/b0
    echo "$b2" > /tmp/b1
    # SINK_PORT 9 (discard); the kernel's answers to A's datagrams are switched off above
    nfv-proxy eth0 $a $b 9 $CONTROL_PORT 127.0.0.1 &
    echo $! > /tmp/proxy.pid
  fi
  ip link set eth0 up
  ip route add default dev eth0  # every peer is on the vif's segment
  echo "nfv-standin: router $1 ($name) running on $own"
}

stop_router() {
  [ -f /tmp/proxy.pid ] && kill "$(cat /tmp/proxy.pid)" 2>/dev/null
  rm -f /tmp/proxy.pid
  ip link set eth0 down
  ip addr flush dev eth0
  echo "nfv-standin: router $1 halted"
}

xenstore-watch "$root" | while read -r path _; do
  rest=${path#"$root"/}
  [ "$rest" = "$path" ] && continue
  router=${rest%%/*}
  case "$rest" in
    */status)
      status=$(xenstore-read "$path" 2>/dev/null)
      state=$(cat "/tmp/router-$router" 2>/dev/null)
      if [ "$status" = Running ] && [ "$state" != Running ]; then
        echo Running > "/tmp/router-$router"
        start_router "$router"
      elif [ "$status" = Halted ] && [ "$state" = Running ]; then
        echo Halted > "/tmp/router-$router"
        stop_router "$router"
      fi
      ;;
    */elements/target/switch)
      port=$(xenstore-read "$path" 2>/dev/null)
      if [ -f "/tmp/b$port" ] && [ -f /tmp/proxy.pid ]; then
        nfv-udp-command $CONTROL_PORT set-b $(cat "/tmp/b$port") ||
          echo "nfv-standin: set-b for switch $port was refused"
      fi
      ;;
  esac
done
echo "nfv-standin: the xenstore watch ended"
while :; do sleep 3600; done
