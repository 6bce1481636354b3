/* SPDX-License-Identifier: MIT */
/* threaded_http.h — a small multi-threaded HTTP/1.0 file server, shared by
 * the file_server and download_images examples.  It serves made-up
 * "images" (/images/photo-N.jpg: 20,000 + N x 1,000 bytes of a pattern) so
 * that the examples need no files and no internet, and waits `delay`
 * seconds before each answer, as a slow remote server would. */
#ifndef THREADED_HTTP_H
#define THREADED_HTTP_H

#include <stddef.h>

/* Listen on 127.0.0.1:*port (0: a free port, written back).  Returns the
 * listening socket, or -1 with a message on stderr. */
int http_listen(int *port);

/* Accept connections forever, one weft thread per connection (Python's
 * socketserver.ThreadingMixIn); a connection no thread could be started for
 * is closed, with a message on stderr.  Returns, with a message on stderr,
 * when accept fails (the socket was closed). */
void http_serve(int listen_fd, double delay);

/* The size and the i-th byte of image n, for checking downloads. */
size_t http_image_size(int n);
unsigned char http_image_byte(int n, size_t i);

#endif
