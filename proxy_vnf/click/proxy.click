// Algorithm 1 of the paper as a ClickOS configuration: the proxy VNF between hosts A and B.
//
//   if pkt.src == A: pkt.dst <- B      elif pkt.src == B: pkt.dst <- A      send(pkt, vif 0)
//
// Rendered by pytest_nfv.click.render with the testbed's addresses; every class here is one a
// ClickOS image ships (pytest_nfv/click/clickos_elements.txt). What the pseudo-code leaves
// implicit and the wire needs is done as the netns proxy does it: the Ethernet header is
// readdressed (one hop), IPv4 and UDP/TCP checksums are made right again (summed afresh for a
// whole datagram, updated incrementally by StoreIPAddress for fragments). It also answers ARP
// for its own address and ICMP echo from anyone but A and B, so the boot probe can see it.

in  :: FromDevice(0);
out :: ToDevice(0);

eth :: Classifier(12/0806 20/0001, 12/0800, -);
in -> eth;
eth[0] -> ARPResponder(${PROXY_IP} ${PROXY_MAC}) -> out;
eth[1] -> CheckIPHeader(14)
       -> ip :: IPClassifier(src host ${A_IP}, src host ${B_IP},
                             icmp type echo and dst host ${PROXY_IP}, -);
eth[2] -> Discard;

fix :: StoreEtherAddress(${PROXY_MAC}, src)
    -> l4 :: IPClassifier(udp and ip unfrag, tcp and ip unfrag, -);
ip[0] -> StoreIPAddress(${B_IP}, dst) -> StoreEtherAddress(${B_MAC}, dst) -> fix;
ip[1] -> StoreIPAddress(${A_IP}, dst) -> StoreEtherAddress(${A_MAC}, dst) -> fix;
ip[2] -> ICMPPingResponder -> EtherMirror -> out;
ip[3] -> Discard;

l4[0] -> SetUDPChecksum -> out;
l4[1] -> SetTCPChecksum -> out;
l4[2] -> out;
