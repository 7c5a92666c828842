# The Xen lab's dom0 side, sourced by the run.sh that scripts/xen-lab writes into the share:
# start the toolstack in Debian's init order, install the checkout, run pytest.
# (/mnt/host: the share; repo/ the checkout, guest/ the ClickOS stand-in, out/ what comes back)

lab_note() {  # a line in dom0.log with dom0's uptime, so that a slow phase shows where it was
  echo "xen-lab dom0 [$(cut -d' ' -f1 /proc/uptime) s]: $*"
}

lab_services() {
  modprobe -a xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xen-netback 2>/dev/null
  mountpoint -q /proc/xen || mount -t xenfs xenfs /proc/xen
  mkdir -p /var/run/xen /var/run/xenstored /var/lib/xen /var/log/xen /var/lib/xenstored
  /usr/lib/xen-4.17/bin/xenstored --pid-file /var/run/xenstored.pid
  /usr/lib/xen-4.17/bin/xen-init-dom0
  # guests' consoles are kept with the results: a boot that never answers shows why there
  mkdir -p /mnt/host/out/consoles
  /usr/lib/xen-4.17/bin/xenconsoled --pid-file=/var/run/xenconsoled.pid --log=guest \
    --timestamp=guest --log-dir=/mnt/host/out/consoles
  ip link set lo up
  mkdir -p /run/libvirt /var/lib/libvirt /var/log/libvirt
  LIBVIRT_LOG_OUTPUTS=3:stderr libvirtd --pid-file /run/libvirtd.pid \
    > /mnt/host/out/libvirtd.log 2>&1 &
  local i=0
  until virsh -c xen:///system version > /dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -gt 120 ]; then
      echo "xen-lab dom0: libvirtd did not answer at xen:///system" >&2
      return 1
    fi
    sleep 1
  done
  lab_note "$(virsh -c xen:///system version | tr '\n' ' ')"
}

lab_pytest() {
  lab_note "started"
  lab_services || return 3
  # The share is 9p, slow to read under emulation (libxl loading the guest's kernel from it
  # took 10 s longer than from memory, pip building the checkout on it 45 s longer): the
  # checkout and the guest are copied into dom0's memory first, the kernel decompressed (the
  # loader takes the plain ELF quicker still).
  mkdir -p /run/nfv/repo /run/nfv/guest
  tar -C /mnt/host/repo -cf - . | tar -C /run/nfv/repo -xf - || return 3
  zcat /mnt/host/guest/vmlinux.gz > /run/nfv/guest/vmlinux || return 3
  cp /mnt/host/guest/initrd.cpio /mnt/host/guest/manifest.json /run/nfv/guest/ || return 3
  cd /run/nfv/repo || return 3
  # the checkout is installed (not imported from the share) so the plugin's entry point exists
  /opt/nfv/bin/pip install --quiet --no-deps --no-build-isolation --no-index . || return 3
  lab_note "the checkout installed"
  mkdir -p /mnt/host/out/results
  sed "s|@INITRD@|/run/nfv/guest/initrd.cpio|" fixtures/domains/clickos-standin.xml \
    > /run/clickos-standin.xml
  export NFV_CLICKOS_IMAGE=/run/nfv/guest/vmlinux
  export NFV_CLICKOS_TEMPLATE=/run/clickos-standin.xml
  export NFV_RESULTS=/mnt/host/out/results
  export PATH=/opt/nfv/bin:$PATH
  # @IMAGE@, @TEMPLATE@ and @RESULTS@ in the arguments name those files inside dom0
  local arg
  for arg in "$@"; do
    arg=$(printf '%s' "$arg" | sed -e "s|@IMAGE@|$NFV_CLICKOS_IMAGE|g" \
      -e "s|@TEMPLATE@|$NFV_CLICKOS_TEMPLATE|g" -e "s|@RESULTS@|$NFV_RESULTS|g")
    set -- "$@" "$arg"
    shift
  done
  local status=0
  /opt/nfv/bin/python -m pytest -p no:cacheprovider "$@" || status=$?
  lab_note "pytest ended with status $status"
  # libxl's own logs (per domain, and the driver's errors) say why a create was refused
  cp -r /var/log/libvirt/libxl /mnt/host/out/libxl 2>/dev/null
  cp -r /var/log/xen /mnt/host/out/xen 2>/dev/null
  return "$status"
}
