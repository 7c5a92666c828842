# What the ClickOS stand-in reads out of a rendered Click configuration (sourced by init.sh,
# and by the unit tests against the project's own templates). A configuration arrives as its
# xenstore chunks joined with newlines dropped, so every expression matches within one line.

# own_address CONFIG: the address its ARPResponder answers for (an instance's, the proxy's)
own_address() {
  echo "$1" | sed -n 's/.*ARPResponder(\([0-9.]*\) [0-9a-fA-F:]*).*/\1/p' | head -n 1
}

# proxy_host CONFIG PORT: "IP MAC" that PORT of the proxy's classifier rewrites to:
# "a" (B's replies go to A: ip[1]), "b" (target[0]) or "b2" (target[1])
proxy_host() {
  case "$2" in
    a) port='ip\[1\]' ;;
    b) port='target\[0\]' ;;
    b2) port='target\[1\]' ;;
    *) return 1 ;;
  esac
  pair='StoreIPAddress(\([0-9.]*\), dst) *-> *StoreEtherAddress(\([0-9a-fA-F:]*\), dst)'
  echo "$1" | sed -n "s/.*$port *-> *$pair.*/\1 \2/p" | head -n 1
}
