/*
 * Algorithm 1 of the paper as the OSv backend's guest runs it: raw sockets, one interface.
 *
 *     if pkt.src == host_A: pkt.dst <- host_B
 *     elif pkt.src == host_B: pkt.dst <- host_A
 *     send(pkt, eth0)
 *
 * Usage (the guest's init passes the values from the kernel command line):
 *
 *     nfv-proxy IFACE A_IP A_MAC B_IP B_MAC SINK_PORT CONTROL_PORT CONTROLLER_IP
 *
 * Frames addressed to this guest's MAC are read from an AF_PACKET socket, rewritten exactly
 * as pytest_nfv/vnf/rewrite.py does (Ethernet readdressed, IPv4 header checksum updated,
 * UDP/TCP checksum summed afresh for whole datagrams -- a sender with checksum offload leaves
 * only the pseudo-header sum -- and updated incrementally in whichever fragment holds it),
 * and sent back out of the same interface. Frames from anyone but A or B are left alone.
 *
 * Control channel: UDP datagrams to CONTROL_PORT from CONTROLLER_IP (the switch namespace on
 * the host), one command each, answered "ok" (or "error ...") to the sender:
 *   "pause"           stop rewriting; the guest kernel forwards instead (ip_forward=1), which
 *                     is the same hop without the VNF, for the direct-path comparison
 *   "resume"          rewrite again (ip_forward=0)
 *   "set-b IP MAC"    host B is now elsewhere (the deployment suite's reconfiguration)
 *   "ping"            liveness
 * A UDP socket bound to SINK_PORT swallows what A sends to the proxy's own address, so the
 * guest kernel does not answer those datagrams with ICMP port-unreachable.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define ETH_HLEN_ 14
#define PROTO_TCP 6
#define PROTO_UDP 17
#define FRAME_BUFFER (65536 + 64)

struct table {
    uint8_t host_a[4], host_b[4];
    uint8_t mac_a[6], mac_b[6], own_mac[6];
};

static int parse_mac(const char *text, uint8_t out[6]) {
    unsigned v[6];
    char tail;
    if (strlen(text) != 17 ||
        sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
               &tail) != 6)
        return -1;
    for (int i = 0; i < 6; i++) out[i] = (uint8_t)v[i];
    return 0;
}

static int parse_ip(const char *text, uint8_t out[4]) {
    return inet_pton(AF_INET, text, out) == 1 ? 0 : -1;
}

static uint32_t fold(uint32_t total) {
    while (total >> 16) total = (total & 0xFFFF) + (total >> 16);
    return total;
}

static uint32_t sum_words(const uint8_t *data, size_t len, uint32_t total) {
    size_t i;
    for (i = 0; i + 1 < len; i += 2) total += (uint32_t)(data[i] << 8 | data[i + 1]);
    if (len & 1) total += (uint32_t)(data[len - 1] << 8);
    return fold(total);
}

/* RFC 1624: HC' = ~(~HC + ~m + m') over the changed 16-bit words. */
static uint16_t adjust(uint16_t checksum, const uint8_t *old, const uint8_t *new_, size_t len) {
    uint32_t total = (uint16_t)~checksum;
    for (size_t i = 0; i < len; i += 2) {
        total += (uint16_t)~(old[i] << 8 | old[i + 1]);
        total += (uint32_t)(new_[i] << 8 | new_[i + 1]);
    }
    return (uint16_t)~fold(total);
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

static void sum_afresh(uint8_t *frame, size_t end, size_t ip, size_t l4, int proto) {
    size_t at = l4 + (proto == PROTO_UDP ? 6 : 16);
    if (at + 2 > end) return;
    if (proto == PROTO_UDP && frame[at] == 0 && frame[at + 1] == 0) return; /* no checksum */
    uint8_t pseudo[12];
    memcpy(pseudo, frame + ip + 12, 8);
    pseudo[8] = 0;
    pseudo[9] = (uint8_t)proto;
    put16(pseudo + 10, (uint16_t)(end - l4));
    put16(frame + at, 0);
    uint32_t total = sum_words(pseudo, sizeof pseudo, 0);
    total = sum_words(frame + l4, end - l4, total);
    uint16_t updated = (uint16_t)~total;
    if (proto == PROTO_UDP && updated == 0) updated = 0xFFFF; /* RFC 768 */
    put16(frame + at, updated);
}

static void fix_transport(uint8_t *frame, size_t length, size_t ip, size_t ihl,
                          const uint8_t *old_dst, const uint8_t *new_dst) {
    int proto = frame[ip + 9];
    if (proto != PROTO_UDP && proto != PROTO_TCP) return;
    uint16_t flags_offset = get16(frame + ip + 6);
    int more = (flags_offset & 0x2000) != 0;
    size_t fragment_start = (size_t)(flags_offset & 0x1FFF) * 8;
    size_t total_length = get16(frame + ip + 2);
    size_t end = ip + total_length < length ? ip + total_length : length;
    size_t l4 = ip + ihl;
    if (fragment_start == 0 && !more) {
        sum_afresh(frame, end, ip, l4, proto);
        return;
    }
    if (memcmp(old_dst, new_dst, 4) == 0) return;
    size_t field = (size_t)(proto == PROTO_UDP ? 6 : 16);
    if (field < fragment_start) return; /* the field is in an earlier fragment */
    size_t at = l4 + field - fragment_start;
    if (at + 2 > end) return; /* ... or in a later one */
    uint16_t current = get16(frame + at);
    if (proto == PROTO_UDP && current == 0) return;
    uint16_t updated = adjust(current, old_dst, new_dst, 4);
    if (proto == PROTO_UDP && updated == 0) updated = 0xFFFF;
    put16(frame + at, updated);
}

/* Algorithm 1 on one frame, in place; 1 when it is to be sent, 0 to leave it. */
static int rewrite_frame(uint8_t *frame, size_t length, const struct table *t) {
    if (length < ETH_HLEN_ + 20 || get16(frame + 12) != ETHERTYPE_IP) return 0;
    size_t ip = ETH_HLEN_;
    size_t ihl = (size_t)(frame[ip] & 0x0F) * 4;
    if ((frame[ip] >> 4) != 4 || ihl < 20 || length < ip + ihl) return 0;
    const uint8_t *new_dst, *new_mac;
    if (memcmp(frame + ip + 12, t->host_a, 4) == 0) {
        new_dst = t->host_b;
        new_mac = t->mac_b;
    } else if (memcmp(frame + ip + 12, t->host_b, 4) == 0) {
        new_dst = t->host_a;
        new_mac = t->mac_a;
    } else {
        return 0;
    }
    memcpy(frame, new_mac, 6);
    memcpy(frame + 6, t->own_mac, 6);
    uint8_t old_dst[4];
    memcpy(old_dst, frame + ip + 16, 4);
    if (memcmp(old_dst, new_dst, 4) != 0) {
        memcpy(frame + ip + 16, new_dst, 4);
        put16(frame + ip + 10, adjust(get16(frame + ip + 10), old_dst, new_dst, 4));
    }
    fix_transport(frame, length, ip, ihl, old_dst, new_dst);
    return 1;
}

static void set_forwarding(int on) {
    int fd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY);
    if (fd >= 0) {
        if (write(fd, on ? "1\n" : "0\n", 2) != 2) perror("nfv-proxy: ip_forward");
        close(fd);
    }
}

static int udp_socket(uint16_t port) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("nfv-proxy: udp socket");
        exit(1);
    }
    return fd;
}

/* One control datagram: apply it and answer the sender. */
static void control(int fd, struct table *t, int *forwarding, const uint8_t controller[4]) {
    char command[128], reply[160];
    struct sockaddr_in peer;
    socklen_t peer_len = sizeof peer;
    ssize_t n = recvfrom(fd, command, sizeof command - 1, 0, (struct sockaddr *)&peer, &peer_len);
    if (n <= 0 || memcmp(&peer.sin_addr, controller, 4) != 0) return;
    command[n] = 0;
    command[strcspn(command, "\r\n")] = 0;
    char ip_text[32], mac_text[32];
    uint8_t ip[4], mac[6];
    snprintf(reply, sizeof reply, "ok");
    if (strcmp(command, "pause") == 0) {
        *forwarding = 0;
        set_forwarding(1);
    } else if (strcmp(command, "resume") == 0) {
        set_forwarding(0);
        *forwarding = 1;
    } else if (strcmp(command, "ping") == 0) {
        /* liveness only */
    } else if (sscanf(command, "set-b %31s %31s", ip_text, mac_text) == 2 &&
               parse_ip(ip_text, ip) == 0 && parse_mac(mac_text, mac) == 0) {
        memcpy(t->host_b, ip, 4);
        memcpy(t->mac_b, mac, 6);
    } else {
        snprintf(reply, sizeof reply, "error unknown command '%.100s'", command);
    }
    sendto(fd, reply, strlen(reply), 0, (struct sockaddr *)&peer, peer_len);
    fprintf(stderr, "nfv-proxy: %s -> %s\n", command, reply);
}

int main(int argc, char **argv) {
    struct table t;
    uint8_t controller[4];
    if (argc != 9 || parse_ip(argv[2], t.host_a) || parse_mac(argv[3], t.mac_a) ||
        parse_ip(argv[4], t.host_b) || parse_mac(argv[5], t.mac_b) ||
        parse_ip(argv[8], controller)) {
        fprintf(stderr,
                "usage: nfv-proxy IFACE A_IP A_MAC B_IP B_MAC SINK_PORT CONTROL_PORT "
                "CONTROLLER_IP\n");
        return 2;
    }
    int wire = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    if (wire < 0) {
        perror("nfv-proxy: AF_PACKET");
        return 1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", argv[1]);
    struct ifreq hw = ifr; /* the two ioctls share a union: one request each */
    if (ioctl(wire, SIOCGIFINDEX, &ifr) < 0 || ioctl(wire, SIOCGIFHWADDR, &hw) < 0) {
        perror("nfv-proxy: interface");
        return 1;
    }
    memcpy(t.own_mac, hw.ifr_hwaddr.sa_data, 6);
    int one = 1, rcvbuf = 4 << 20;
    setsockopt(wire, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
    setsockopt(wire, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_ll bound = {
        .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = ifr.ifr_ifindex};
    if (bind(wire, (struct sockaddr *)&bound, sizeof bound) < 0) {
        perror("nfv-proxy: bind");
        return 1;
    }
    int sink = udp_socket((uint16_t)atoi(argv[6]));
    int ctl = udp_socket((uint16_t)atoi(argv[7]));
    set_forwarding(0);
    int forwarding = 1;
    static uint8_t frame[FRAME_BUFFER], drain[FRAME_BUFFER];
    struct pollfd fds[3] = {{wire, POLLIN, 0}, {sink, POLLIN, 0}, {ctl, POLLIN, 0}};
    fprintf(stderr, "nfv-proxy: ready on %s\n", argv[1]);
    for (;;) {
        if (poll(fds, 3, -1) < 0) {
            if (errno == EINTR) continue;
            perror("nfv-proxy: poll");
            return 1;
        }
        if (fds[2].revents & POLLIN) control(ctl, &t, &forwarding, controller);
        if (fds[1].revents & POLLIN)
            while (recv(sink, drain, sizeof drain, MSG_DONTWAIT) > 0) {
            }
        if (!(fds[0].revents & POLLIN)) continue;
        for (;;) {
            struct sockaddr_ll from;
            socklen_t from_len = sizeof from;
            ssize_t n = recvfrom(wire, frame, sizeof frame, MSG_DONTWAIT, (struct sockaddr *)&from,
                                 &from_len);
            if (n < 0) break;
            if (forwarding && from.sll_pkttype == PACKET_HOST &&
                rewrite_frame(frame, (size_t)n, &t))
                send(wire, frame, (size_t)n, 0);
        }
    }
}
