#!/bin/sh
# pytest-nfv xen-lab: the dom0 init. Mounts the host share and runs its run.sh as root (the
# share is a directory only root on the host can write).
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /mnt/host
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 host /mnt/host
mkdir -p /mnt/host/out
/bin/sh /mnt/host/run.sh > /mnt/host/out/dom0.log 2>&1
echo $? > /mnt/host/out/rc
sync
while :; do sleep 3600; done
