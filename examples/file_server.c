/* SPDX-License-Identifier: MIT */
/* file_server.c — the guides' "server handling many client connections":
 * a multi-threaded HTTP server, one thread per connection, serving the
 * made-up images of threaded_http.h with a per-request delay.  Try it with
 * download_images, or with curl:
 *
 *     file_server 8000 0.2 &
 *     curl -o photo.jpg http://127.0.0.1:8000/images/photo-3.jpg
 *
 * Usage: file_server [port] [delay-seconds]   (default 8000 0.2; port 0: any)
 */
#include "threaded_http.h"

#include <weft.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8000;
    double delay = argc > 2 ? atof(argv[2]) : 0.2;
    if (port < 0 || port > 65535 || !(delay >= 0 && delay <= 60)) {
        fprintf(stderr, "usage: %s [port 0-65535] [delay 0..60 s]\n", argv[0]);
        return 2;
    }
    int fd = http_listen(&port);
    if (fd < 0)
        return 1;
    printf("serving http://127.0.0.1:%d/images/photo-N.jpg, %.2f s per request\n", port, delay);
    fflush(stdout);
    http_serve(fd, delay);
    return 1; /* accept failed */
}
