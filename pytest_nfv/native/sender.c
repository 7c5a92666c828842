/*
 * Host A's paced UDP sender: the second traffic generator, beside trafgen.
 *
 *     nfv-sender DST_IP PORT PAYLOAD[,PAYLOAD...] RATE COUNT TAG DEADLINE_S
 *
 * Sends COUNT datagrams of PAYLOAD bytes (16 at least) to DST_IP:PORT at RATE per second (0:
 * as fast as it can), each carrying TAG, its sequence number and its send time in the layout
 * nfv-receiver reads (see receiver.c). Frame k is due (k-1)/RATE seconds after the start; each
 * wake-up sends every frame that is due by then, so a late wake-up makes the next batch
 * larger instead of the rate lower. It stops at DEADLINE_S seconds whatever is left, and
 * prints what the kernel accepted:
 *
 *     sent FRAMES ELAPSED_NS
 *
 * Several payloads (up to MAX_MIX, comma-separated) make a mix such as an IMIX: datagram k
 * has the ((k-1) mod n)-th payload, so the mix holds at every scale of n datagrams.
 *
 * The socket is unconnected, so an ICMP error coming back does not fail the next send.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_PAYLOAD 9000
#define TICK_NS 50000ull /* the pace at which due frames are looked for */
#define MAX_MIX 64

static unsigned char buffers[BATCH][MAX_PAYLOAD];

static uint64_t now_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void stamp(unsigned char *p, uint32_t tag, uint64_t s)
{
    uint32_t tag_be = htonl(tag);
    memcpy(p, &tag_be, 4);
    p[4] = (unsigned char)(s % 251);
    p[5] = (unsigned char)(s % 253);
    p[6] = (unsigned char)(s % 255);
    p[7] = (unsigned char)(s % 256);
    uint64_t sent = now_ns(CLOCK_REALTIME);
    for (int i = 7; i >= 0; i--) {
        p[8 + i] = (unsigned char)(sent & 0xff);
        sent >>= 8;
    }
}

static int parse(const char *text, double low, double high, double *out)
{
    char *end;
    double value = strtod(text, &end);
    if (*end != '\0' || value < low || value > high)
        return -1;
    *out = value;
    return 0;
}

/* PAYLOAD[,PAYLOAD...] into sizes; how many, or -1 if any is not a payload size. */
static int parse_mix(char *text, size_t sizes[MAX_MIX])
{
    int n = 0;
    for (char *part = strtok(text, ","); part != NULL; part = strtok(NULL, ",")) {
        double value;
        if (n == MAX_MIX || parse(part, 16, MAX_PAYLOAD, &value))
            return -1;
        sizes[n++] = (size_t)value;
    }
    return n > 0 ? n : -1;
}

int main(int argc, char **argv)
{
    double port, rate, count, tag, deadline_s;
    size_t sizes[MAX_MIX];
    int mix = argc == 8 ? parse_mix(argv[3], sizes) : -1;
    struct sockaddr_in to = {.sin_family = AF_INET};
    if (argc != 8 || inet_pton(AF_INET, argv[1], &to.sin_addr) != 1 ||
        parse(argv[2], 1, 65535, &port) || mix < 1 ||
        parse(argv[4], 0, 1e9, &rate) || parse(argv[5], 1, 1e12, &count) ||
        parse(argv[6], 0, 4294967295.0, &tag) || parse(argv[7], 0.001, 86400, &deadline_s)) {
        fprintf(stderr, "usage: %s DST_IP PORT PAYLOAD[,PAYLOAD...] RATE COUNT TAG DEADLINE_S\n", argv[0]);
        return 2;
    }
    to.sin_port = htons((unsigned short)port);
    int size = 4 << 20, sock = socket(AF_INET, SOCK_DGRAM, 0);
    if (sock < 0)
        return perror("nfv-sender: socket"), 1;
    setsockopt(sock, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size);
    struct mmsghdr messages[BATCH];
    struct iovec vectors[BATCH];
    for (int i = 0; i < BATCH; i++) {
        vectors[i] = (struct iovec){.iov_base = buffers[i], .iov_len = sizes[0]};
        messages[i].msg_hdr = (struct msghdr){
            .msg_name = &to, .msg_namelen = sizeof to, .msg_iov = &vectors[i], .msg_iovlen = 1};
    }
    uint64_t total = (uint64_t)count, sent = 0;
    uint64_t start = now_ns(CLOCK_MONOTONIC), stop = start + (uint64_t)(deadline_s * 1e9);
    uint64_t last = start, next_tick = start;
    while (sent < total) {
        uint64_t now = now_ns(CLOCK_MONOTONIC);
        if (now >= stop)
            break;
        uint64_t due = total;
        if (rate > 0) {
            due = (uint64_t)((double)(now - start) * rate / 1e9) + 1;
            if (due > total)
                due = total;
            if (due <= sent) {
                next_tick += TICK_NS;
                if (next_tick < now)
                    next_tick = now + TICK_NS;
                struct timespec wake = {(time_t)(next_tick / 1000000000ull),
                                        (long)(next_tick % 1000000000ull)};
                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &wake, NULL);
                continue;
            }
        }
        unsigned batch = (unsigned)(due - sent < BATCH ? due - sent : BATCH);
        for (unsigned i = 0; i < batch; i++) {
            stamp(buffers[i], (uint32_t)tag, sent + 1 + i);
            vectors[i].iov_len = sizes[(sent + i) % (uint64_t)mix];
        }
        int done = sendmmsg(sock, messages, batch, 0);
        if (done < 0) {
            if (errno == EINTR || errno == ENOBUFS || errno == EAGAIN || errno == ECONNREFUSED)
                continue;
            perror("sendmmsg");
            return 1;
        }
        sent += (uint64_t)done;
        last = now_ns(CLOCK_MONOTONIC);
    }
    printf("sent %llu %llu\n", (unsigned long long)sent, (unsigned long long)(last - start));
    return 0;
}
