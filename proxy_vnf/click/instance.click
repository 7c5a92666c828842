// A VNF instance of the instantiation and coexistence suites: it answers ARP for its address
// and ICMP echo (the boot probe), and drops everything else. Rendered by
// pytest_nfv.backends.clickos.click.render.

in  :: FromDevice(0);
out :: ToDevice(0);

eth :: Classifier(12/0806 20/0001, 12/0800, -);
in -> eth;
eth[0] -> ARPResponder(${IP} ${MAC}) -> out;
eth[1] -> CheckIPHeader(14)
       -> ip :: IPClassifier(icmp type echo and dst host ${IP}, -);
eth[2] -> Discard;
ip[0] -> ICMPPingResponder -> EtherMirror -> out;
ip[1] -> Discard;
