/*
 * Host B of the testbed: answer every UDP datagram with itself, to its sender.
 *
 *     nfv-echo PORT
 *
 * The same contract as pytest_nfv/vnf/echo.py (prints "ready" once bound, runs until killed),
 * at the cost of a blocking recvfrom and a sendto: no interpreter between the wake-up and the
 * reply, so a response time carries the path and the kernel's wake-up, not a language's.
 * It asks for a real-time slot (as the ICMP prober does) so that on a busy host its wake-up
 * does not wait behind other processes, where ping's echo is answered by B's kernel at once;
 * it sleeps in recvfrom between datagrams, so the slot costs nothing while idle.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned char buffer[65536];

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    char *end;
    long port = strtol(argv[1], &end, 10);
    if (*end != '\0' || port < 1 || port > 65535) {
        fprintf(stderr, "%s: bad port %s\n", argv[0], argv[1]);
        return 2;
    }
    struct sched_param priority = {.sched_priority = 10};
    sched_setscheduler(0, SCHED_FIFO, &priority); /* best effort: without it, a plain slot */
    int sock = socket(AF_INET, SOCK_DGRAM, 0);
    if (sock < 0) {
        perror("socket");
        return 1;
    }
    int size = 4 << 20;
    setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    local.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(sock, (struct sockaddr *)&local, sizeof local) < 0) {
        perror("bind");
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        struct sockaddr_in peer;
        socklen_t peer_len = sizeof peer;
        ssize_t length = recvfrom(sock, buffer, sizeof buffer, 0, (struct sockaddr *)&peer, &peer_len);
        if (length < 0) {
            if (errno == EINTR)
                continue;
            perror("recvfrom");
            return 1;
        }
        sendto(sock, buffer, (size_t)length, 0, (struct sockaddr *)&peer, peer_len);
    }
}
