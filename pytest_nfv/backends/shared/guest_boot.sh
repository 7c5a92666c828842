# pytest-nfv guests' common start, sourced by each guest's /init (as /lib/nfv/boot.sh) with
# $guest naming the guest in its console lines: the kernel's file systems, its modules in
# load order, then no IPv6 and no ICMP redirects, so that the only packets on a guest's link
# are the ones a test sends and their answers.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
for m in @MODULES@; do
  insmod /lib/modules/$m.ko || echo "$guest: insmod $m failed"
done
echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6
echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6
echo 0 > /proc/sys/net/ipv4/conf/all/send_redirects
echo 0 > /proc/sys/net/ipv4/conf/default/send_redirects
echo 0 > /proc/sys/net/ipv4/conf/all/accept_redirects
