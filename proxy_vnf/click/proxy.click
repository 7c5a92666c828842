// Algorithm 1 of the paper as a ClickOS configuration: the proxy VNF between hosts A and B.
//
//   if pkt.src == A: pkt.dst <- B      elif pkt.src == B: pkt.dst <- A      send(pkt, vif 0)
//
// Rendered by pytest_nfv.backends.clickos.click.render with the testbed's addresses; every class
// here is one a ClickOS image ships (that package's clickos_elements.txt). What the pseudo-code
// leaves implicit and the wire needs is done as the netns proxy does it: the Ethernet header is
// readdressed (one hop), IPv4 and UDP/TCP checksums are made right again (summed afresh for a
// whole datagram, updated incrementally by StoreIPAddress for fragments).
//
// Three things beside Algorithm 1, each on traffic Algorithm 1 never sees:
// - ARP for the proxy's address and ICMP echo from anyone but A and B (the boot probe);
// - B is chosen by the Switch "target": 0 sends to B, 1 to B2. A reconfiguration writes its
//   "switch" handler through xenstore (data/clickos/<router>/elements/target/switch), the way
//   ClickOS changes a running configuration, with no reload and no lost packets;
// - the plain path of the monitoring suite: A's packets addressed to B (or B2) themselves are
//   forwarded by this same domain with the Ethernet header readdressed, no Algorithm 1. They
//   still pass through SetUDPChecksum/SetTCPChecksum: a sender with checksum offload (a veth,
//   a vif) hands over a partial checksum (the pseudo-header sum only), which the receiver drops
//   unless the forwarder completes it. B's replies always take Algorithm 1 (src == B), where
//   the rewrite leaves them addressed to A.

in  :: FromDevice(0);
out :: ToDevice(0);

eth :: Classifier(12/0806 20/0001, 12/0800, -);
in -> eth;
eth[0] -> ARPResponder(${PROXY_IP} ${PROXY_MAC}) -> out;
eth[1] -> CheckIPHeader(14)
       -> ip :: IPClassifier(src host ${A_IP} and dst host ${PROXY_IP},
                             src host ${B_IP} or src host ${B2_IP},
                             src host ${A_IP} and dst host ${B_IP},
                             src host ${A_IP} and dst host ${B2_IP},
                             icmp type echo and dst host ${PROXY_IP},
                             -);
eth[2] -> Discard;

fix :: StoreEtherAddress(${PROXY_MAC}, src)
    -> l4 :: IPClassifier(udp and ip unfrag, tcp and ip unfrag, -);

ip[0] -> target :: Switch(0);
target[0] -> StoreIPAddress(${B_IP}, dst) -> StoreEtherAddress(${B_MAC}, dst) -> fix;
target[1] -> StoreIPAddress(${B2_IP}, dst) -> StoreEtherAddress(${B2_MAC}, dst) -> fix;
ip[1] -> StoreIPAddress(${A_IP}, dst) -> StoreEtherAddress(${A_MAC}, dst) -> fix;
ip[2] -> StoreEtherAddress(${B_MAC}, dst) -> fix;
ip[3] -> StoreEtherAddress(${B2_MAC}, dst) -> fix;
ip[4] -> ICMPPingResponder -> EtherMirror -> out;
ip[5] -> Discard;

l4[0] -> SetUDPChecksum -> out;
l4[1] -> SetTCPChecksum -> out;
l4[2] -> out;
