#!/bin/sh
# udhcpc's hook: the lease's address on the interface, nothing else.
# It speaks first: once the address is on, the boot is over and the VM may be gone.
case "$1" in
  bound|renew)
    echo "nfv-guest: up $ip role $role" > /dev/console
    ifconfig "$interface" "$ip" netmask "$subnet" ;;
esac
