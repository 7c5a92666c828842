/*
 * Send one command datagram to a control port on this machine and print the answer.
 *
 * Usage:   nfv-udp-command PORT COMMAND...
 *
 * The ClickOS stand-in guest's init turns a write to the proxy's "target/switch" handler in
 * xenstore into the C proxy's "set-b IP MAC" command with this (busybox's nc speaks TCP only).
 * The datagram goes to 127.0.0.1 and nowhere else. Exits 0 when the answer starts with "ok",
 * 1 on another answer, 2 on bad usage, 3 when nothing answered within a second.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    char command[256] = "", reply[256];
    char *end;
    long port = argc >= 3 ? strtol(argv[1], &end, 10) : 0;
    if (argc < 3 || *end != 0 || port < 1 || port > 65535) {
        fprintf(stderr, "usage: nfv-udp-command PORT COMMAND...\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (strlen(command) + strlen(argv[i]) + 2 > sizeof command) {
            fprintf(stderr, "nfv-udp-command: command too long\n");
            return 2;
        }
        if (i > 2) strcat(command, " ");
        strcat(command, argv[i]);
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval wait = {.tv_sec = 1, .tv_usec = 0};
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait) < 0 ||
        sendto(fd, command, strlen(command), 0, (struct sockaddr *)&to, sizeof to) < 0) {
        perror("nfv-udp-command");
        return 3;
    }
    ssize_t n = recv(fd, reply, sizeof reply - 1, 0);
    if (n < 0) {
        fprintf(stderr, "nfv-udp-command: no answer from port %ld\n", port);
        return 3;
    }
    reply[n] = 0;
    printf("%s\n", reply);
    return strncmp(reply, "ok", 2) == 0 ? 0 : 1;
}
