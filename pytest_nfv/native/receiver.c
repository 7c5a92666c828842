/*
 * Host B's traffic receiver: counts the UDP datagrams of one stream and checks their order.
 *
 *     nfv-receiver PORT          (commands on stdin, answers on stdout)
 *
 * Prints "ready" once bound. "start TAG" (TAG a decimal u32) resets the counts and answers
 * "ok"; from then on a datagram whose payload begins with TAG is counted, any other one is
 * foreign. "stop" answers one line and stops counting:
 *
 *     count RECEIVED DUPLICATES REORDERED HIGHEST FOREIGN SOCKET_DROPS LAT_N LAT_MIN LAT_SUM LAT_MAX
 *
 * RECEIVED counts distinct sequence numbers, so a duplicate is never taken for a frame that
 * was lost; REORDERED counts datagrams that came after one with a higher number. SOCKET_DROPS
 * is what the kernel dropped at this socket's buffer (SO_RXQ_OVFL) during the stream: loss
 * the receiver caused, not the path. LAT_* is the one-way delay (ns) from the sender's stamp
 * to the kernel's receive stamp, over the datagrams that carry a stamp (both ends read
 * CLOCK_REALTIME of one host).
 *
 * The payload, after the UDP header, in network byte order:
 *     [0, 4)   the stream's tag
 *     [4, 8)   the sequence number s (first frame: 1) as residues s mod 251, 253, 255, 256,
 *              one byte each: what trafgen's one-byte runtime counters (dinc) can write, and
 *              together (Chinese remainder theorem) a number that repeats only after
 *              251*253*255*256 frames
 *     [8, 16)  the send time in ns of CLOCK_REALTIME, 0 where the sender cannot stamp
 * EOF on stdin ends the program.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 256
#define SNAP 64 /* only the head of a datagram is read: the rest is padding */
#define MAX_TRACKED (1u << 27) /* sequence numbers kept in the bitmap (16 MiB of it) */
#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif

static const uint32_t moduli[4] = {251, 253, 255, 256};
static uint64_t crt_weight[4];
static const uint64_t crt_modulus = 251ull * 253ull * 255ull * 256ull;

static uint32_t tag;
static int counting;
static uint64_t received, duplicates, reordered, highest, foreign, untracked;
static uint32_t drops_at_start, drops_now;
static int drops_seen;
static uint64_t lat_n, lat_min, lat_sum, lat_max;
static unsigned char *seen;
static size_t seen_bytes;

static void crt_setup(void)
{
    for (int i = 0; i < 4; i++) {
        uint64_t rest = crt_modulus / moduli[i];
        uint64_t inverse = 1;
        while ((rest % moduli[i]) * inverse % moduli[i] != 1)
            inverse++;
        crt_weight[i] = rest * inverse; /* < 2^32 * 2^8: no overflow below */
    }
}

static uint64_t sequence(const unsigned char *residues)
{
    uint64_t sum = 0;
    for (int i = 0; i < 4; i++)
        sum = (sum + residues[i] * crt_weight[i] % crt_modulus) % crt_modulus;
    return sum;
}

/* Whether s was seen before; marks it seen. Numbers past the bitmap are taken as new. */
static int seen_before(uint64_t s)
{
    if (s >= MAX_TRACKED) {
        untracked++;
        return 0;
    }
    size_t byte = (size_t)(s >> 3);
    if (byte >= seen_bytes) {
        size_t grown = seen_bytes ? seen_bytes : 1 << 16;
        while (grown <= byte)
            grown *= 2;
        unsigned char *bigger = realloc(seen, grown);
        if (bigger == NULL) {
            untracked++;
            return 0;
        }
        memset(bigger + seen_bytes, 0, grown - seen_bytes);
        seen = bigger;
        seen_bytes = grown;
    }
    unsigned char bit = (unsigned char)(1u << (s & 7));
    int before = (seen[byte] & bit) != 0;
    seen[byte] |= bit;
    return before;
}

static void reset(uint32_t new_tag)
{
    tag = new_tag;
    received = duplicates = reordered = highest = foreign = untracked = 0;
    lat_n = lat_sum = lat_max = 0;
    lat_min = UINT64_MAX;
    drops_at_start = drops_now;
    if (seen != NULL)
        memset(seen, 0, seen_bytes);
    counting = 1;
}

static uint64_t be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void count(const unsigned char *data, size_t length, const struct msghdr *header)
{
    uint64_t arrived = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(header); c != NULL;
         c = CMSG_NXTHDR((struct msghdr *)header, c)) {
        if (c->cmsg_level != SOL_SOCKET)
            continue;
        if (c->cmsg_type == SO_RXQ_OVFL) {
            memcpy(&drops_now, CMSG_DATA(c), sizeof drops_now);
            drops_seen = 1;
        } else if (c->cmsg_type == SO_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof ts);
            arrived = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        }
    }
    uint32_t their_tag;
    if (!counting || length < 16 || (memcpy(&their_tag, data, 4), ntohl(their_tag) != tag)) {
        foreign++;
        return;
    }
    uint64_t s = sequence(data + 4);
    if (seen_before(s)) {
        duplicates++;
        return;
    }
    received++;
    if (s < highest)
        reordered++;
    else
        highest = s;
    uint64_t sent = be64(data + 8);
    if (sent != 0 && arrived >= sent) {
        uint64_t delay = arrived - sent;
        lat_n++;
        lat_sum += delay;
        if (delay < lat_min)
            lat_min = delay;
        if (delay > lat_max)
            lat_max = delay;
    }
}

static void drain(int sock)
{
    static unsigned char heads[BATCH][SNAP];
    static char controls[BATCH][CMSG_SPACE(sizeof(struct timespec)) + CMSG_SPACE(sizeof(uint32_t))];
    struct mmsghdr messages[BATCH];
    struct iovec vectors[BATCH];
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            vectors[i] = (struct iovec){.iov_base = heads[i], .iov_len = SNAP};
            messages[i].msg_hdr = (struct msghdr){
                .msg_iov = &vectors[i],
                .msg_iovlen = 1,
                .msg_control = controls[i],
                .msg_controllen = sizeof controls[i],
            };
        }
        int got = recvmmsg(sock, messages, BATCH, MSG_DONTWAIT, NULL);
        if (got <= 0)
            return;
        for (int i = 0; i < got; i++)
            count(heads[i], messages[i].msg_len, &messages[i].msg_hdr);
        if (got < BATCH)
            return;
    }
}

static void command(char *line)
{
    unsigned long value;
    if (sscanf(line, "start %lu", &value) == 1) {
        reset((uint32_t)value);
        printf("ok\n");
    } else if (strcmp(line, "stop") == 0) {
        counting = 0;
        printf("count %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu\n",
               (unsigned long long)received, (unsigned long long)duplicates,
               (unsigned long long)reordered, (unsigned long long)highest,
               (unsigned long long)foreign,
               (unsigned long long)(drops_seen ? drops_now - drops_at_start : 0),
               (unsigned long long)lat_n, (unsigned long long)(lat_n ? lat_min : 0),
               (unsigned long long)lat_sum, (unsigned long long)lat_max);
    } else {
        printf("error unknown command\n");
    }
    fflush(stdout);
}

/* The stream's socket, bound to PORT on every address, with the options above; -1 if not. */
static int receiving_socket(unsigned short port)
{
    int sock = socket(AF_INET, SOCK_DGRAM, 0), size = 64 << 20, on = 1;
    if (sock < 0)
        return -1;
    if (setsockopt(sock, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
        setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(sock, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on);
    setsockopt(sock, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons(port)};
    local.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(sock, (struct sockaddr *)&local, sizeof local) < 0) {
        close(sock);
        return -1;
    }
    return sock;
}

int main(int argc, char **argv)
{
    unsigned long port = argc == 2 ? strtoul(argv[1], NULL, 10) : 0;
    if (port < 1 || port > 65535) {
        fprintf(stderr, "usage: %s PORT (1..65535)\n", argv[0]);
        return 2;
    }
    crt_setup();
    int sock = receiving_socket((unsigned short)port);
    if (sock < 0) {
        perror("nfv-receiver: socket");
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    char input[4096];
    size_t used = 0;
    struct pollfd fds[2] = {{.fd = sock, .events = POLLIN}, {.fd = 0, .events = POLLIN}};
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            perror("poll");
            return 1;
        }
        if (fds[0].revents & POLLIN)
            drain(sock);
        if (fds[1].revents & (POLLIN | POLLHUP)) {
            drain(sock); /* what arrived before the command belongs to the stream */
            ssize_t n = read(0, input + used, sizeof input - used - 1);
            if (n <= 0)
                return 0;
            used += (size_t)n;
            input[used] = '\0';
            char *start = input, *newline;
            while ((newline = strchr(start, '\n')) != NULL) {
                *newline = '\0';
                command(start);
                start = newline + 1;
            }
            used = (size_t)(input + used - start);
            memmove(input, start, used);
            if (used == sizeof input - 1)
                used = 0; /* a line that long is no command */
        }
    }
}
