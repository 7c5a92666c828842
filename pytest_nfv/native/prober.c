/*
 * The ICMP readiness prober's child, in C: the same wire protocol and pace as the Python
 * child in pytest_nfv/harness/probes/icmp.py (read that module's docstring for both).
 *
 *     nfv-prober          (commands on stdin, answers on stdout)
 *
 * The prober wakes up every time some target is due, up to thousands of times a second while
 * a round of instances boots, so its cost is its wake-ups: the interpreter's share of each one
 * is what this program leaves out. It asks for a real-time slot as the Python child does, and
 * falls back to a plain one. Each round reports what it cost: CPU time, wall time, wake-ups.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_TARGETS 65536
#define BACKOFF_FRACTION 0.0625 /* a silent target's gap grows to this share of its wait */
#define COALESCE_S 0.0001       /* targets due within this much are probed in one wake-up */
#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8

struct target {
    struct in_addr address;
    double since, due, previous, last; /* previous, last: the two latest probes (0: none) */
    int probes, answered;
};

static struct target targets[MAX_TARGETS];
static int target_count;
static char input[1 << 16];
static size_t input_length;
static int input_closed;

static double clock_seconds(clockid_t clock)
{
    struct timespec now;
    clock_gettime(clock, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static double monotonic(void)
{
    return clock_seconds(CLOCK_MONOTONIC);
}

/* This thread's CPU time as the scheduler counts it (what /proc/<pid>/schedstat shows). */
static double cpu_time(void)
{
    return clock_seconds(CLOCK_THREAD_CPUTIME_ID);
}

/* ceil for the non-negative values here, without libm (built with no -lm). */
static double ceiling(double x)
{
    double whole = (double)(long long)x;
    return whole < x ? whole + 1 : whole;
}

static long microseconds(double seconds)
{
    return (long)(seconds * 1e6 + 0.5);
}

static unsigned short checksum(const unsigned char *data, size_t length)
{
    unsigned long sum = 0;
    for (size_t i = 0; i + 1 < length; i += 2)
        sum += (unsigned long)(data[i] << 8 | data[i + 1]);
    if (length % 2)
        sum += (unsigned long)data[length - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16);
    return (unsigned short)~sum;
}

/* The next whole line of input (without its newline) into line; 0 when none is queued. */
static int next_line(char *line, size_t size)
{
    char *end = memchr(input, '\n', input_length);
    if (end == NULL)
        return 0;
    size_t length = (size_t)(end - input);
    size_t kept = length < size - 1 ? length : size - 1;
    memcpy(line, input, kept);
    line[kept] = '\0';
    input_length -= length + 1;
    memmove(input, end + 1, input_length);
    return 1;
}

/* Read once from stdin (it is readable); a partial line waits for the rest. */
static void fill(void)
{
    if (input_length == sizeof input) /* a line longer than the buffer: drop it */
        input_length = 0;
    ssize_t got = read(0, input + input_length, sizeof input - input_length);
    if (got > 0)
        input_length += (size_t)got;
    else if (got == 0 || (errno != EINTR && errno != EAGAIN))
        input_closed = 1;
}

struct round {
    double timeout, interval, max_interval, origin, max_gap, resolution;
    double cpu_origin; /* this thread's CPU time when the round was armed */
    long wakeups;
    int ended, cancelled, pending;
};

static void command(struct round *round, const char *line)
{
    char word[16], address[64];
    int words = sscanf(line, "%15s %63s", word, address);
    if (words == 2 && strcmp(word, "go") == 0) {
        struct in_addr parsed;
        if (inet_pton(AF_INET, address, &parsed) != 1 || target_count == MAX_TARGETS)
            return;
        for (int i = 0; i < target_count; i++)
            if (targets[i].address.s_addr == parsed.s_addr)
                return;
        double now = monotonic();
        targets[target_count++] = (struct target){.address = parsed, .since = now, .due = now};
        round->pending++;
    } else if (words == 1 && strcmp(word, "end") == 0) {
        round->ended = 1;
    } else if (words == 1 && strcmp(word, "cancel") == 0) {
        round->cancelled = 1;
    }
}

static void send_due(struct round *round, int sock, const unsigned char *packet, size_t length)
{
    double now = monotonic(), tick = round->interval;
    for (int i = 0; i < target_count; i++) {
        struct target *t = &targets[i];
        if (t->answered || t->due > now + COALESCE_S)
            continue;
        if (t->probes && now - t->last > round->max_gap)
            round->max_gap = now - t->last;
        t->previous = t->last;
        t->last = now;
        t->probes++;
        struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr = t->address};
        sendto(sock, packet, length, 0, (struct sockaddr *)&to, sizeof to); /* may fail: not up */
        double gap = (t->due - t->since) * BACKOFF_FRACTION;
        gap = gap < round->interval ? round->interval : gap;
        gap = gap > round->max_interval ? round->max_interval : gap;
        double ticks = (now + gap - round->origin) / tick;
        t->due = round->origin + tick * ceiling(ticks - COALESCE_S / tick);
    }
}

static void drain(struct round *round, int sock, unsigned short ident)
{
    for (;;) {
        unsigned char data[2048], control[256];
        struct sockaddr_in peer;
        struct iovec vector = {.iov_base = data, .iov_len = sizeof data};
        struct msghdr message = {
            .msg_name = &peer,
            .msg_namelen = sizeof peer,
            .msg_iov = &vector,
            .msg_iovlen = 1,
            .msg_control = control,
            .msg_controllen = sizeof control,
        };
        ssize_t length = recvmsg(sock, &message, MSG_DONTWAIT);
        if (length < 0)
            return;
        size_t ihl = (size_t)(data[0] & 0x0F) * 4;
        if ((size_t)length < ihl + 8 || data[ihl] != ICMP_ECHO_REPLY)
            continue;
        if ((unsigned short)(data[ihl + 4] << 8 | data[ihl + 5]) != ident)
            continue;
        struct target *t = NULL;
        for (int i = 0; i < target_count && t == NULL; i++)
            if (!targets[i].answered && targets[i].address.s_addr == peer.sin_addr.s_addr)
                t = &targets[i];
        if (t == NULL)
            continue;
        struct timespec stamp;
        clock_gettime(CLOCK_REALTIME, &stamp);
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&message); c; c = CMSG_NXTHDR(&message, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS)
                memcpy(&stamp, CMSG_DATA(c), sizeof stamp);
        t->answered = 1;
        round->pending--;
        if (t->probes >= 2 && t->last - t->previous > round->resolution)
            round->resolution = t->last - t->previous;
        char shown[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &t->address, shown, sizeof shown);
        printf("reply %s %lld\n", shown, (long long)stamp.tv_sec * 1000000000LL + stamp.tv_nsec);
        fflush(stdout);
    }
}

/* One armed round, as _run_round in icmp.py; returns 0 when stdin closed meanwhile. */
static int run_round(struct round *round, int sock, unsigned short ident)
{
    unsigned char packet[8 + 16] = {ICMP_ECHO_REQUEST, 0, 0, 0, ident >> 8, ident & 0xFF, 0, 1};
    memcpy(packet + 8, "pytest-nfv-ready", 16);
    unsigned short sum = checksum(packet, sizeof packet);
    packet[2] = sum >> 8;
    packet[3] = sum & 0xFF;
    double deadline = monotonic() + round->timeout;
    char line[256];
    for (;;) {
        while (!round->ended && !round->cancelled && next_line(line, sizeof line))
            command(round, line);
        if (round->cancelled || (round->ended && round->pending == 0))
            return 1;
        double now = monotonic();
        if (now >= deadline)
            return 1;
        send_due(round, sock, packet, sizeof packet);
        double due = deadline;
        for (int i = 0; i < target_count; i++)
            if (!targets[i].answered && targets[i].due < due)
                due = targets[i].due;
        double wait = due - monotonic();
        wait = wait < 0 ? 0 : wait;
        struct timespec timeout = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
        struct pollfd watched[2] = {{.fd = sock, .events = POLLIN}, {.fd = 0, .events = POLLIN}};
        int count = round->ended || input_closed ? 1 : 2;
        if (ppoll(watched, (nfds_t)count, &timeout, NULL) < 0 && errno != EINTR)
            return 1;
        round->wakeups++;
        if (watched[0].revents & POLLIN)
            drain(round, sock, ident);
        if (count == 2 && watched[1].revents) {
            fill();
            if (input_closed)
                return 0;
        }
    }
}

int main(void)
{
    struct sched_param priority = {.sched_priority = 10};
    if (sched_setscheduler(0, SCHED_FIFO, &priority) != 0 && nice(-10) == -1)
        errno = 0; /* best effort: without either, a plain slot */
    int sock = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    if (sock < 0) {
        perror("socket");
        return 1;
    }
    int on = 1, size = 1 << 20;
    setsockopt(sock, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
    setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    unsigned short ident = (unsigned short)(getpid() & 0xFFFF);
    char line[256];
    for (;;) {
        /* Between rounds only "arm" means anything; a stray line is dropped, never a later one. */
        if (!next_line(line, sizeof line)) {
            if (input_closed)
                return 0;
            struct pollfd control = {.fd = 0, .events = POLLIN};
            poll(&control, 1, -1);
            fill();
            continue;
        }
        double timeout;
        long interval_us, max_interval_us = -1;
        int words = sscanf(line, "arm %lf %ld %ld", &timeout, &interval_us, &max_interval_us);
        if (words < 2 || interval_us <= 0)
            continue;
        if (words < 3 || max_interval_us < interval_us)
            max_interval_us = interval_us;
        struct round round = {
            .timeout = timeout,
            .interval = (double)interval_us / 1e6,
            .max_interval = (double)max_interval_us / 1e6,
            .cpu_origin = cpu_time(),
            .origin = monotonic(),
        };
        target_count = 0;
        printf("armed\n");
        fflush(stdout);
        if (!run_round(&round, sock, ident))
            return 0;
        printf("done %d %ld %ld %ld %ld %ld", round.pending, microseconds(round.max_gap),
               microseconds(round.resolution), microseconds(cpu_time() - round.cpu_origin),
               microseconds(monotonic() - round.origin), round.wakeups);
        for (int i = 0; i < target_count; i++) {
            if (!targets[i].answered) {
                char shown[INET_ADDRSTRLEN];
                inet_ntop(AF_INET, &targets[i].address, shown, sizeof shown);
                printf(" %s", shown);
            }
        }
        printf("\n");
        fflush(stdout);
    }
}
