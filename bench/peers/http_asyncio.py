# SPDX-License-Identifier: MIT
"""http_asyncio.py — docs/benchmarks.md W12 peers: an HTTP/1.1 keep-alive
server on asyncio streams (asyncio.start_server, StreamReader.readuntil,
StreamWriter.write + drain) answering GET /hello with "Hello, world!" (13
bytes, text/plain), on asyncio's default event loop or, with --loop uvloop,
on uvloop's (python3-uvloop).  bench/http_bench.py starts it pinned to one
CPU and loads it with wrk and h2load.

Fairness:
  - One interpreter, one thread, one event loop: the one worker every W12
    server gets.  Both rows run the same code with the same interpreter (the
    first that imports uvloop), so they differ only by the loop.
  - backlog=4096 (asyncio's default is 100, which drops connections when
    1,000 clients connect at once), the backlog every server is given.
  - `await writer.drain()` after each write, as asyncio's documentation
    writes it: below the high water mark it returns at once.
  - The response is the prebuilt one the C servers send (no Date header).

Usage: http_asyncio.py --port P [--host 127.0.0.1] [--loop asyncio|uvloop]
"""
import argparse
import asyncio
import sys

BODY = b"Hello, world!"
HELLO = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n"
         + BODY)
NOT_FOUND = (b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
             b"Content-Length: 10\r\n\r\nNot found\n")
BAD_REQUEST = (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
               b"Connection: close\r\n\r\n")


def wants_close(head):
    """Whether the request's head says "Connection: close" (HTTP/1.0's close
    by default is not looked at: the load generators speak HTTP/1.1), as the
    C servers parse it; the substring test first keeps the common case
    cheap."""
    if b"lose" not in head and b"LOSE" not in head:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"connection":
            return value.strip().lower().startswith(b"close")
    return False


async def handle(reader, writer):
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return  # the client went away between requests
            except asyncio.LimitOverrunError:
                writer.write(BAD_REQUEST)
                return
            parts = head.split(b" ", 2)
            if len(parts) < 3:
                writer.write(BAD_REQUEST)
                return
            ok = parts[0] == b"GET" and parts[1] == b"/hello"
            writer.write(HELLO if ok else NOT_FOUND)
            await writer.drain()
            if wants_close(head):
                return
    except ConnectionError:
        pass
    finally:
        writer.close()


async def serve(host, port):
    server = await asyncio.start_server(handle, host, port, backlog=4096)
    async with server:
        await server.serve_forever()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    args = ap.parse_args()
    if args.loop == "uvloop":
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        asyncio.run(serve(args.host, args.port))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
