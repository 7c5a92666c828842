/*
 * Algorithm 1 of the paper at the socket layer: a UDP relay, for guests without raw frames.
 *
 *     if pkt.src == host_A: pkt.dst <- host_B
 *     elif pkt.src == host_B: pkt.dst <- host_A
 *     send(pkt)
 *
 * OSv's network stack (FreeBSD's) has no AF_PACKET, a stub BPF, no IP forwarding that can be
 * switched on at run time, and raw IP sockets that never see UDP: the frame-rewriting proxy
 * (proxy.c) cannot run there. This program does what Algorithm 1 does to a datagram with
 * nothing but UDP sockets, so it runs unchanged on Linux and, built as a PIE, on OSv:
 *
 * - A sends to the relay's own address, DATA_PORT. A datagram from A_IP (any port; the last
 *   one seen is where replies go) is sent on to B_IP:B_PORT from the relay's upstream socket;
 *   a datagram from anyone else is dropped.
 * - What arrives on the upstream socket from B (the current B_IP:B_PORT) is sent to A from
 *   DATA_PORT; anything else is dropped, so after "set-b" only the new B's replies reach A.
 *
 * - With STREAM_PORT and SINK_PORT, a datagram from A to the relay's STREAM_PORT is sent on
 *   to B_IP:SINK_PORT from STREAM_PORT, one way: a throughput stream, which B counts and
 *   nothing answers (pytest_nfv/harness/traffic/: B's receiver holds SINK_PORT, while B's
 *   echo responder holds B_PORT, so the stream is neither echoed nor taken for a reply).
 *
 * Differences from Algorithm 1 on raw frames: A addresses the relay, not B; B sees the relay
 * as its sender; A sees the relay's address on the replies. IP fragments are reassembled by
 * the guest and sent again as new datagrams; the payload is carried byte for byte.
 *
 * Usage (the same on Linux and OSv; on OSv it is the image's command line):
 *
 *     nfv-relay A_IP B_IP DATA_PORT B_PORT CONTROL_PORT CONTROLLER_IP [STREAM_PORT SINK_PORT]
 *
 * Control channel: UDP datagrams to CONTROL_PORT from CONTROLLER_IP, one command each,
 * answered "ok" (or "error ...") to the sender:
 *   "pause"           stop relaying; where the guest can forward IP (Linux: ip_forward=1), it
 *                     does, for the direct-path comparison; where it cannot (OSv), the answer
 *                     is "error no-forwarding ..." and relaying goes on
 *   "resume"          relay again (ip_forward=0)
 *   "set-b IP MAC"    host B is now elsewhere (MAC accepted for the frame proxy's syntax;
 *                     the guest's ARP finds it here)
 *   "ping"            liveness
 * It prints "nfv-relay: ready" on stderr (the console) once its sockets are bound.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DATAGRAM_BUFFER 65536
#define SOCKET_BUFFER (1 << 20)

struct relay {
    struct in_addr host_a, host_b, controller;
    uint16_t a_port; /* network order; 0 until A has sent something */
    uint16_t b_port; /* network order */
    uint16_t stream_port, sink_port; /* network order; 0: no stream */
    int relaying;
};

static int parse_port(const char *text, uint16_t *out) {
    char *end;
    long value = strtol(text, &end, 10);
    if (*text == 0 || *end != 0 || value < 1 || value > 65535) return -1;
    *out = htons((uint16_t)value);
    return 0;
}

static int parse_mac(const char *text) {
    unsigned v[6];
    char tail;
    return strlen(text) == 17 && sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2],
                                        &v[3], &v[4], &v[5], &tail) == 6
               ? 0
               : -1;
}

/* 1 done, 0 the guest has no such switch (OSv), -1 it refused. */
static int set_forwarding(int on) {
    int fd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY);
    if (fd < 0) return errno == ENOENT ? 0 : -1;
    int done = write(fd, on ? "1\n" : "0\n", 2) == 2 ? 1 : -1;
    close(fd);
    return done;
}

static int udp_socket(uint16_t port) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = port};
    if (fd < 0) {
        perror("nfv-relay: socket");
        exit(1);
    }
    /* FreeBSD's defaults (42 KB to receive, 9 KB to send a datagram) are below 64 KB, and it
     * refuses a buffer above its cap (about 227 KB) outright: halve until one is taken. */
    for (int size = SOCKET_BUFFER; size >= 128 << 10; size -= 64 << 10)
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) == 0) break;
    for (int size = SOCKET_BUFFER; size >= 128 << 10; size -= 64 << 10)
        if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) == 0) break;
    int got_rcv = 0, got_snd = 0;
    socklen_t len = sizeof got_rcv;
    getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got_rcv, &len);
    len = sizeof got_snd;
    getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &got_snd, &len);
    if (got_rcv < DATAGRAM_BUFFER || got_snd < DATAGRAM_BUFFER)
        fprintf(stderr, "nfv-relay: socket buffers %d/%d bytes: datagrams above that are lost\n",
                got_rcv, got_snd);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("nfv-relay: bind");
        exit(1);
    }
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        perror("nfv-relay: O_NONBLOCK");
        exit(1);
    }
    return fd;
}

/* One control datagram: apply it and answer the sender. */
static void control(int fd, struct relay *r) {
    char command[128], reply[160];
    struct sockaddr_in peer;
    socklen_t peer_len = sizeof peer;
    ssize_t n = recvfrom(fd, command, sizeof command - 1, 0, (struct sockaddr *)&peer, &peer_len);
    if (n <= 0 || peer.sin_addr.s_addr != r->controller.s_addr) return;
    command[n] = 0;
    command[strcspn(command, "\r\n")] = 0;
    char ip_text[32], mac_text[32];
    struct in_addr ip;
    snprintf(reply, sizeof reply, "ok");
    if (strcmp(command, "pause") == 0) {
        int forwarding = set_forwarding(1);
        if (forwarding == 1)
            r->relaying = 0;
        else
            snprintf(reply, sizeof reply, "error no-forwarding: %s",
                     forwarding == 0 ? "this guest has no /proc/sys/net/ipv4/ip_forward"
                                     : "ip_forward refused");
    } else if (strcmp(command, "resume") == 0) {
        set_forwarding(0);
        r->relaying = 1;
    } else if (strcmp(command, "ping") == 0) {
        /* liveness only */
    } else if (sscanf(command, "set-b %31s %31s", ip_text, mac_text) == 2 &&
               inet_pton(AF_INET, ip_text, &ip) == 1 && parse_mac(mac_text) == 0) {
        r->host_b = ip;
    } else {
        snprintf(reply, sizeof reply, "error unknown command '%.100s'", command);
    }
    sendto(fd, reply, strlen(reply), 0, (struct sockaddr *)&peer, peer_len);
    fprintf(stderr, "nfv-relay: %s -> %s\n", command, reply);
}

/* Drain one socket, relaying what Algorithm 1 says to relay. */
static void relay_from(int from, int to, struct relay *r, int from_a, uint8_t *buffer) {
    for (;;) {
        struct sockaddr_in peer;
        socklen_t peer_len = sizeof peer;
        ssize_t n = recvfrom(from, buffer, DATAGRAM_BUFFER, 0, (struct sockaddr *)&peer,
                             &peer_len);
        if (n < 0) return;
        if (!r->relaying) continue;
        struct sockaddr_in next = {.sin_family = AF_INET};
        if (from_a) {
            if (peer.sin_addr.s_addr != r->host_a.s_addr) continue;
            r->a_port = peer.sin_port;
            next.sin_addr = r->host_b;
            next.sin_port = r->b_port;
        } else {
            if (peer.sin_addr.s_addr != r->host_b.s_addr || peer.sin_port != r->b_port ||
                r->a_port == 0)
                continue;
            next.sin_addr = r->host_a;
            next.sin_port = r->a_port;
        }
        sendto(to, buffer, (size_t)n, 0, (struct sockaddr *)&next, sizeof next);
    }
}

/* Drain the stream socket: A's datagrams go on to B's SINK_PORT, one way. */
static void stream_from(int fd, const struct relay *r, uint8_t *buffer) {
    for (;;) {
        struct sockaddr_in peer;
        socklen_t peer_len = sizeof peer;
        ssize_t n = recvfrom(fd, buffer, DATAGRAM_BUFFER, 0, (struct sockaddr *)&peer, &peer_len);
        if (n < 0) return;
        if (!r->relaying || peer.sin_addr.s_addr != r->host_a.s_addr) continue;
        struct sockaddr_in next = {
            .sin_family = AF_INET, .sin_addr = r->host_b, .sin_port = r->sink_port};
        sendto(fd, buffer, (size_t)n, 0, (struct sockaddr *)&next, sizeof next);
    }
}

int main(int argc, char **argv) {
    struct relay r = {.relaying = 1};
    uint16_t data_port, control_port;
    if ((argc != 7 && argc != 9) || inet_pton(AF_INET, argv[1], &r.host_a) != 1 ||
        inet_pton(AF_INET, argv[2], &r.host_b) != 1 || parse_port(argv[3], &data_port) ||
        parse_port(argv[4], &r.b_port) || parse_port(argv[5], &control_port) ||
        inet_pton(AF_INET, argv[6], &r.controller) != 1 ||
        (argc == 9 &&
         (parse_port(argv[7], &r.stream_port) || parse_port(argv[8], &r.sink_port)))) {
        fprintf(stderr,
                "usage: nfv-relay A_IP B_IP DATA_PORT B_PORT CONTROL_PORT CONTROLLER_IP "
                "[STREAM_PORT SINK_PORT]\n");
        return 2;
    }
    int data = udp_socket(data_port);
    int upstream = udp_socket(0);
    int ctl = udp_socket(control_port);
    int stream = r.stream_port ? udp_socket(r.stream_port) : -1; /* poll skips fd -1 */
    set_forwarding(0);
    static uint8_t buffer[DATAGRAM_BUFFER];
    struct pollfd fds[4] = {
        {data, POLLIN, 0}, {upstream, POLLIN, 0}, {ctl, POLLIN, 0}, {stream, POLLIN, 0}};
    fprintf(stderr, "nfv-relay: ready\n");
    for (;;) {
        if (poll(fds, 4, -1) < 0) {
            if (errno == EINTR) continue;
            perror("nfv-relay: poll");
            return 1;
        }
        if (fds[2].revents & POLLIN) control(ctl, &r);
        if (fds[0].revents & POLLIN) relay_from(data, upstream, &r, 1, buffer);
        if (fds[1].revents & POLLIN) relay_from(upstream, data, &r, 0, buffer);
        if (fds[3].revents & POLLIN) stream_from(stream, &r, buffer);
    }
}
