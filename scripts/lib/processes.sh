# Sourced by scripts/engines and scripts/xen-lab: which process a recorded pid still names.
#
# A pid alone names whatever process holds it now: after the recorded one died, a later one
# (an operator's shell, another daemon) may have it. A record keeps the pid with its start
# time in clock ticks since boot and the PID namespace it was read in; a process is the
# recorded one only if all three still agree.

start_ticks() {  # start_ticks PID: field 22 of /proc/PID/stat (after the name, which may hold spaces)
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  # shellcheck disable=SC2086  # split into fields on purpose
  set -- $stat
  echo "${20}"
}

pid_record() {  # pid_record PID: the line to keep for it
  echo "$1 $(start_ticks "$1") $(readlink /proc/self/ns/pid)"
}

still_running() {  # still_running PID TICKS NS: the recorded process is alive, seen from here
  [[ "$1" =~ ^[1-9][0-9]*$ ]] && [ -n "$2" ] && [ "$3" = "$(readlink /proc/self/ns/pid)" ] \
    && [ "$(start_ticks "$1" || true)" = "$2" ]
}
