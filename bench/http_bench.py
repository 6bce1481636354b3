#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""http_bench.py — W12 of docs/benchmarks.md: HTTP/1.1 keep-alive servers
answering GET /hello with "Hello, world!" (13 bytes, text/plain), each on
one CPU, under load generators nobody in this project wrote (wrk, h2load
--h1) pinned to the other CPU.  bench/compare.py runs it as the net part of
`make bench`; it runs alone as well:

    python3 bench/http_bench.py --build build/release [--quick]

The servers, one thread or one worker each: weft (bench/bench_http.c),
nginx (`return 200`, worker_processes 1, a config generated here), libuv
with a minimal parser (bench/peers/http_uv.c), CPython asyncio streams and
the same code on uvloop (bench/peers/http_asyncio.py, run by the first
Python that imports uvloop, e.g. Debian's /usr/bin/python3), Go net/http
at GOMAXPROCS=1 (bench/peers/http_go.go).  A server not built or not
installed is listed as missing and left out.

For each connection count N (100, 1,000 and 10,000; 10,000 only when the
descriptor limit, raised here from its soft to its hard value, leaves room
for it, else the run says why it is skipped) and each server, in an order
that alternates from one N to the next:
  1. start the server pinned to the server CPU (taskset), in a process
     group of its own that dies with this script (also on Ctrl-C, SIGTERM,
     an error or a timeout);
  2. wait until it answers, then check one keep-alive connection: two
     requests, each answer exactly status 200, text/plain, Content-Length
     13 and the body "Hello, world!" (its length in bytes is kept: every
     answer wrk counts must be that long);
  3. open N connections, send one request on each and check every answer
     the same way; with them open and idle read the server's RSS (VmRSS,
     all its processes): RSS per idle connection = (that - RSS before) / N;
     close them;
  4. a short warm-up of wrk, then `wrk --latency -t1 -cN -dT` with a Lua
     script that prints wrk's own totals (requests, bytes, errors,
     percentiles), and `h2load --h1 -cN -nM -t1` with M the requests wrk
     served in T (at least 20 per connection); each is checked: wrk's
     socket errors and non-2xx answers must be 0 and its bytes those of its
     requests' answers (plus at most one partial answer per connection,
     cut when the run stopped); h2load's every request must have succeeded
     with a 2xx and its data bytes must be 13 per request;
  5. around each client run: the server's utime + stime (/proc/<pid>/stat,
     every process of it) gives its CPU per 1,000 requests (over the
     requests the client counted) and how busy its CPU was; the client's
     own CPU time (getrusage of the reaped child) gives how busy the
     client's CPU was: a client near 100% of its CPU was the bound, not the
     server; the peak RSS (VmHWM) is read at the end.

Prints a table and the targets (weft's CPU per 1,000 requests at most 0.85x
nginx's and below libuv's, its requests/s at least nginx's, its p99 at most
nginx's, its RSS per idle connection below Go's), and with --rows FILE
writes bench_util.h's rows for compare.py:
  "W12 <client> <N>"        median = wall ns per request (1e9 / requests/s),
                            cpu = the server's CPU ns per request, note =
                            requests/s, p50/p99, RSS, what was the bound;
  "W12 <client> <N> CPU"    the server's CPU ns per request as the figure;
  "W12 wrk <N> p99"         wrk's p99 latency, us (h2load gives no
                            percentiles without its per-request log);
  "W12 <N> RSS/conn"        bytes of RSS per idle connection.
A check that fails makes the exit status 1 (the server's rows are left
out); a slow server never does.
"""
import argparse
import contextlib
import ctypes
import os
import pwd
import grp
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BODY = b"Hello, world!"
REQUEST = b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
CONNECTIONS = (100, 1000, 10000)
CLK_TCK = os.sysconf("SC_CLK_TCK")
# A CPU this busy (of one) over a run was the bound.
BOUND = 0.90
PR_SET_PDEATHSIG = 1
# A server's watchdog: a process of its own that kills the server's whole
# process group once this script is gone, however it went (a SIGKILL
# included): the kernel's parent-death signal reaches nginx's master, not
# its worker.
WATCHDOG = ("import os, signal, sys, time\n"
            "group, parent = int(sys.argv[1]), os.getppid()\n"
            "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
            "while os.getppid() == parent:\n"
            "    time.sleep(0.25)\n"
            "try:\n"
            "    os.killpg(group, signal.SIGKILL)\n"
            "except OSError:\n"
            "    pass\n")

# wrk's own totals, one line at the end of its run (a Lua `done` only: no
# per-response callback, which would slow wrk down).
WRK_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "W12WRK requests=%d bytes=%d duration_us=%d connect=%d read=%d write=%d status=%d "
    .. "timeout=%d p50_us=%d p99_us=%d mean_us=%d\\n",
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(99), latency.mean))
end
"""

NGINX_CONF = """# generated by bench/http_bench.py for W12
worker_processes 1;
daemon off;
master_process on;
{user}
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
worker_rlimit_nofile {nofile};
events {{ worker_connections {worker_connections}; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    # nginx closes a keep-alive connection after 1,000 requests by default
    # (1.19.10+), which would make it reconnect in the middle of a run.
    keepalive_requests 1000000000;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location = /hello {{
            default_type text/plain;
            return 200 "Hello, world!";
        }}
    }}
}}
"""


class CheckFailed(Exception):
    """A wrong answer, a failed client run: the server's figures mean nothing."""


# ---- the servers ----------------------------------------------------------

def python_with(module):
    """The first Python (this one, then Debian's) that imports `module`."""
    for python in (sys.executable, "/usr/bin/python3"):
        if os.path.exists(python) and subprocess.run(
                [python, "-c", f"import {module}"], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, timeout=60).returncode == 0:
            return python
    return None


class ServerSpec:
    """How to start one server on a port: `command(port, tmp)` is its argv
    (None: not available, `missing` says why)."""

    def __init__(self, name, command, missing=None, env=None):
        self.name, self.command, self.missing, self.env = name, command, missing, env or {}


def server_specs(build, nofile):
    bench = os.path.join(build, "bench")
    specs = []

    def binary(name, path, *extra, env=None):
        if os.path.exists(path):
            specs.append(ServerSpec(name, lambda port, tmp: [path, "--port", str(port), *extra],
                                    env=env))
        else:
            specs.append(ServerSpec(name, None, f"{path} not built"))

    binary("weft", os.path.join(bench, "bench_http"))
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                      else None)
    if nginx:
        specs.append(ServerSpec("nginx return 200 (1 worker)",
                                lambda port, tmp: nginx_command(nginx, port, tmp, nofile)))
    else:
        specs.append(ServerSpec("nginx return 200 (1 worker)", None, "nginx not installed"))
    binary("libuv minimal parser", os.path.join(bench, "http_uv"))
    uv_python = python_with("uvloop")
    script = os.path.join(HERE, "peers", "http_asyncio.py")
    py = uv_python or sys.executable
    if uv_python:
        specs.append(ServerSpec("uvloop streams", lambda port, tmp: [
            py, script, "--port", str(port), "--loop", "uvloop"]))
    else:
        specs.append(ServerSpec("uvloop streams", None, "no Python here imports uvloop "
                                "(python3-uvloop)"))
    specs.append(ServerSpec("CPython asyncio streams", lambda port, tmp: [
        py, script, "--port", str(port)]))
    binary("Go net/http (GOMAXPROCS=1)", os.path.join(bench, "http_go"),
           env={"GOMAXPROCS": "1"})
    return specs


def nginx_command(nginx, port, tmp, nofile):
    """nginx's command line, its config written to tmp: one worker, its
    pid, logs and temp paths in tmp, as this user."""
    user = ""
    if os.geteuid() == 0:  # else nginx runs as whoever started it
        pw = pwd.getpwuid(os.geteuid())
        user = f"user {pw.pw_name} {grp.getgrgid(pw.pw_gid).gr_name};"
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(user=user, tmp=tmp, port=port, nofile=nofile,
                                  worker_connections=min(nofile, 65535)))
    return [nginx, "-p", tmp, "-c", conf, "-e", os.path.join(tmp, "error.log")]


def die_with_parent():
    """In a child before exec: be killed when this script dies, however it
    dies (a parent's SIGKILL included), and lead a process group."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def pinned(cpu, argv):
    return (["taskset", "-c", str(cpu)] if cpu is not None else []) + argv


def kill_group(proc, grace=3.0):
    """SIGTERM the process group, SIGKILL it after `grace` seconds, reap."""
    if proc is None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # a worker left behind by its master


def process_tree(pid):
    """pid and every process descended from it (nginx's workers)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo += children.get(p, [])
    return tree


def cpu_seconds(pids):
    """utime + stime of these processes (every thread of each), seconds."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return ticks / CLK_TCK


def status_kb(pids, key):
    """The sum of /proc/<pid>/status's `key` (VmRSS, VmHWM), bytes."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        total += int(line.split()[1]) * 1024
        except (OSError, ValueError):
            pass
    return total


def open_fds(pids):
    n = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            n += len(os.listdir(f"/proc/{pid}/fd"))
    return n


class Server:
    """A running server: started pinned in its own process group, stopped
    (the whole group) on the way out of the `with`, whatever the way."""

    def __init__(self, spec, cpu, tmp):
        self.spec, self.pin, self.tmp = spec, cpu, tmp
        self.port = free_port()
        self.proc, self.watchdog, self.pids = None, None, []
        self.log = open(os.path.join(tmp, "server.log"), "w+")

    def __enter__(self):
        argv = pinned(self.pin, self.spec.command(self.port, self.tmp))
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=die_with_parent,
                                     env=dict(os.environ, **self.spec.env))
        try:
            self.watchdog = subprocess.Popen([sys.executable, "-c", WATCHDOG,
                                              str(self.proc.pid)], stdin=subprocess.DEVNULL)
        except BaseException:
            kill_group(self.proc)
            raise
        return self

    def __exit__(self, *exc):
        try:
            kill_group(self.proc)
        finally:
            if self.watchdog:
                self.watchdog.terminate()
                self.watchdog.wait()
            self.log.close()
        return False

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-2000:]

    def wait_ready(self, timeout):
        """Until it answers a request (any answer; step 2 checks it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise CheckFailed(f"exited with status {self.proc.returncode}:\n"
                                  + self.output())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(REQUEST)
                    if s.recv(1):
                        self.pids = process_tree(self.proc.pid)
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise CheckFailed(f"did not answer within {timeout:.0f} s:\n" + self.output())

    def alive(self):
        if self.proc.poll() is not None:
            raise CheckFailed(f"exited with status {self.proc.returncode}:\n" + self.output())

    def cpu(self):
        return cpu_seconds(self.pids)

    def rss(self):
        return status_kb(self.pids, "VmRSS")

    def peak(self):
        return status_kb(self.pids, "VmHWM")

    def fds(self):
        return open_fds(self.pids)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- checking answers -----------------------------------------------------

def read_answer(sock, pending=b""):
    """One HTTP/1.1 answer from sock: (status, headers, body, size in bytes,
    bytes read beyond it)."""
    data = pending
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise CheckFailed(f"connection closed before an answer's head: {data[:200]!r}")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise CheckFailed(f"not an HTTP status line: {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "-1"))
    if length < 0:
        raise CheckFailed(f"no Content-Length: {head!r}")
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise CheckFailed("connection closed inside a body")
        rest += chunk
    return int(parts[1]), headers, rest[:length], len(head) + 4 + length, rest[length:]


def check_answer(status, headers, body):
    """Exactly the answer every server must give."""
    if status != 200:
        raise CheckFailed(f"status {status}, not 200")
    if body != BODY:
        raise CheckFailed(f"body {body!r}, not {BODY!r}")
    if not headers.get("content-type", "").startswith("text/plain"):
        raise CheckFailed(f"Content-Type {headers.get('content-type')!r}, not text/plain")
    if headers.get("connection", "").lower() == "close":
        raise CheckFailed("Connection: close on a keep-alive request")


def check_keep_alive(port):
    """Two requests on one connection, both answered exactly; the size of
    an answer, bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        sizes, rest = [], b""
        for _ in range(2):
            s.sendall(REQUEST)
            status, headers, body, size, rest = read_answer(s, rest)
            check_answer(status, headers, body)
            sizes.append(size)
        if rest:
            raise CheckFailed(f"bytes after the answer: {rest[:100]!r}")
    if sizes[0] != sizes[1]:
        raise CheckFailed(f"answers of different sizes: {sizes}")
    return sizes[0]


@contextlib.contextmanager
def idle_connections(port, n):
    """n connections, each with one request answered (and checked), held
    open and idle inside the `with`, closed on the way out."""
    socks = []
    try:
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            socks.append(s)
            s.sendall(REQUEST)
        for s in socks:
            status, headers, body, _, rest = read_answer(s)
            check_answer(status, headers, body)
            if rest:
                raise CheckFailed("bytes after an answer")
        yield
    finally:
        for s in socks:
            s.close()


def wait_fds_below(server, limit, timeout=10.0):
    deadline = time.monotonic() + timeout
    while server.fds() > limit and time.monotonic() < deadline:
        time.sleep(0.05)


# ---- the clients ----------------------------------------------------------

def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_client(argv, timeout):
    """Run a load generator to its end (killed, its group too, past
    `timeout`): (its output, its CPU seconds)."""
    before = children_cpu()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=die_with_parent)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc, grace=1)
        raise CheckFailed(f"{argv[0] if argv[0] != 'taskset' else argv[3]} ran past "
                          f"{timeout:.0f} s")
    finally:
        kill_group(proc, grace=1)
    if proc.returncode != 0:
        raise CheckFailed(f"{' '.join(argv)} exited with {proc.returncode}:\n{out[-2000:]}")
    return out, children_cpu() - before


def wrk(cfg, port, n, duration, lua):
    argv = pinned(cfg.client_cpu, ["wrk", "--latency", "-t1", f"-c{n}", f"-d{duration}s",
                                   "--timeout", "10s", "-s", lua,
                                   f"http://127.0.0.1:{port}/hello"])
    out, cpu = run_client(argv, duration + 60 + n / 200)
    m = re.search(r"^W12WRK (.*)$", out, re.M)
    if not m:
        raise CheckFailed(f"wrk printed no totals:\n{out[-2000:]}")
    t = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    return t, cpu, out


def check_wrk(t, n, size, out):
    errors = {k: t[k] for k in ("connect", "read", "write", "status", "timeout") if t[k]}
    if errors:
        raise CheckFailed(f"wrk: errors {errors} (status: non-2xx/3xx answers)\n{out[-1500:]}")
    if t["requests"] <= 0:
        raise CheckFailed("wrk: no requests served")
    if not t["requests"] * size <= t["bytes"] <= (t["requests"] + n) * size:
        raise CheckFailed(f"wrk: {t['bytes']} bytes for {t['requests']} answers of {size}")


def h2load(cfg, port, n, requests):
    argv = pinned(cfg.client_cpu, ["h2load", "--h1", f"-c{n}", f"-n{requests}", "-t1",
                                   f"http://127.0.0.1:{port}/hello"])
    out, cpu = run_client(argv, 120 + requests / 2000)
    return parse_h2load(out, requests), cpu


def parse_h2load(out, requests):
    """h2load's totals, every request checked: a 2xx, 13 body bytes each."""
    def grab(pattern):
        m = re.search(pattern, out, re.M)
        if not m:
            raise CheckFailed(f"h2load: no {pattern!r} in its output:\n{out[-2000:]}")
        return m.groups()
    secs, unit, rps = grab(r"^finished in ([\d.]+)(ms|s|us), ([\d.]+) req/s")
    total, done, ok, failed, errored, timeout = map(int, grab(
        r"^requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, "
        r"(\d+) errored, (\d+) timeout"))
    s2xx, s3xx, s4xx, s5xx = map(int, grab(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, "
                                           r"(\d+) 5xx"))
    data = int(grab(r"^traffic: .*headers \(space savings [^)]*\), [\d.]+\w*B \((\d+)\) data")[0])
    mean, sd = grab(r"^time for request:\s+\S+\s+\S+\s+(\S+)\s+(\S+)")
    if not (total == done == ok == s2xx == requests) or failed or errored or timeout \
            or s3xx or s4xx or s5xx:
        raise CheckFailed(f"h2load: not every request answered with a 2xx:\n{out[-1500:]}")
    if data != len(BODY) * requests:
        raise CheckFailed(f"h2load: {data} body bytes for {requests} answers of {len(BODY)}")
    scale = {"ms": 1e-3, "s": 1.0, "us": 1e-6}[unit]
    return {"requests": requests, "duration": float(secs) * scale, "rps": float(rps),
            "mean_us": duration_us(mean), "sd_us": duration_us(sd)}


def duration_us(text):
    m = re.match(r"([\d.]+)(us|ms|s)$", text)
    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)] if m else None


# ---- one server at one connection count ------------------------------------

def measure(cfg, spec, n, lua):
    """Every figure of one server at n connections: a list of result dicts
    (one per client), or CheckFailed."""
    with tempfile.TemporaryDirectory(prefix="w12-") as tmp, \
            Server(spec, cfg.server_cpu, tmp) as server:
        server.wait_ready(cfg.start_timeout)
        size = check_keep_alive(server.port)
        time.sleep(0.2)
        base_rss, base_fds = server.rss(), server.fds()
        with idle_connections(server.port, n):
            time.sleep(0.3)
            server.alive()
            idle_rss = server.rss()
        wait_fds_below(server, base_fds + 8)
        if cfg.warmup > 0:
            wrk(cfg, server.port, n, cfg.warmup, lua)
        results = []
        served_in_t = None
        for client in cfg.clients:
            server.alive()
            cpu0 = server.cpu()
            if client == "wrk":
                t, client_cpu, out = wrk(cfg, server.port, n, cfg.duration, lua)
                server_cpu = server.cpu() - cpu0
                check_wrk(t, n, size, out)
                duration = t["duration_us"] / 1e6
                r = {"requests": t["requests"], "duration": duration,
                     "rps": t["requests"] / duration, "p50_us": t["p50_us"],
                     "p99_us": t["p99_us"], "mean_us": t["mean_us"]}
                served_in_t = t["requests"]
            else:
                m = max(20 * n, served_in_t or int(cfg.fallback_rps * cfg.duration))
                r, client_cpu = h2load(cfg, server.port, n, m)
                server_cpu = server.cpu() - cpu0
            # Both over the client's own measured time (its clock).
            r.update(client=client, server_cpu=server_cpu, client_cpu=client_cpu,
                     server_busy=server_cpu / max(r["duration"], 1e-9),
                     client_busy=client_cpu / max(r["duration"], 1e-9))
            results.append(r)
        server.alive()
        # VmHWM is the kernel's high-water mark, synced lazily: never below
        # an RSS read before.
        peak = max(server.peak(), idle_rss)
        for r in results:
            r.update(base_rss=base_rss, idle_rss=idle_rss, peak_rss=peak,
                     per_conn=(idle_rss - base_rss) / n, size=size)
        return results


# ---- output ----------------------------------------------------------------

def bound_of(r):
    c, s = r["client_busy"], r["server_busy"]
    if c >= BOUND and s < BOUND:
        return "client-bound"
    if s >= BOUND and c < BOUND:
        return "server-bound"
    if s >= BOUND and c >= BOUND:
        return "both CPUs full"
    return "neither CPU full"


def note_of(r, n):
    lat = (f"p50 {r['p50_us'] / 1000:.2f} ms; p99 {r['p99_us'] / 1000:.2f} ms"
           if "p50_us" in r else f"mean {r['mean_us'] / 1000:.2f} ms (sd {r['sd_us'] / 1000:.2f})")
    return (f"{r['rps'] / 1000:.1f}k req/s; {lat}; server CPU {r['server_cpu'] * 1e6 / r['requests']:.2f}"
            f" ms per 1k; RSS {r['idle_rss'] / 1e6:.1f} MB with {n} idle / peak "
            f"{r['peak_rss'] / 1e6:.1f} MB; {bound_of(r)} (client {r['client_busy']:.0%} of its CPU;"
            f" server {r['server_busy']:.0%})")


def rows_of(impl, n, results, rounds):
    """bench_util.h rows (lists of fields) for compare.py: the median
    round's figures, the spread over every round."""
    rows = []
    for i, r in enumerate(results):
        c = r["client"]
        same = [res[i] for res in rounds]
        walls = [1e9 / x["rps"] for x in same]
        cpus = [x["server_cpu"] * 1e9 / x["requests"] for x in same]
        wall, cpu = 1e9 / r["rps"], r["server_cpu"] * 1e9 / r["requests"]
        note = note_of(r, n)
        rows.append([f"W12 {c} {n}", impl, wall, min(walls), max(walls), cpu, note])
        rows.append([f"W12 {c} {n} CPU", impl, cpu, min(cpus), max(cpus), cpu, note])
        if "p99_us" in r:
            p99s = [x["p99_us"] for x in same]
            rows.append([f"W12 {c} {n} p99", impl, float(r["p99_us"]), float(min(p99s)),
                         float(max(p99s)), "", f"p50 {r['p50_us']} us; mean {r['mean_us']} us"])
    r = results[0]
    per = [res[0]["per_conn"] for res in rounds]
    rows.append([f"W12 {n} RSS/conn", impl, r["per_conn"], min(per), max(per), "",
                 f"RSS {r['base_rss'] / 1e6:.1f} MB before; {r['idle_rss'] / 1e6:.1f} MB with "
                 f"{n} idle connections; peak {r['peak_rss'] / 1e6:.1f} MB"])
    return rows


def fmt_row(fields):
    out = []
    for x in fields:
        out.append(f"{x:.2f}" if isinstance(x, float) else str(x).replace(",", ";"))
    return ",".join(out)


def print_table(table, order):
    print("\nW12: HTTP/1.1 keep-alive GET /hello; server and client pinned to different CPUs;"
          " CPU/1k = the server's CPU ms per 1,000 requests; RSS MB; /conn = RSS bytes per"
          " idle connection; busy = share of its CPU the client / server used")
    print(f"{'server':<30} {'client':<7} {'conns':>6} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'CPU/1k':>7} {'idle':>6} {'peak':>6} {'/conn':>7} {'client':>7} {'server':>7}  bound")
    for n in sorted({k[1] for k in table}):
        for impl in order:
            for r in table.get((impl, n), []):
                p50 = f"{r['p50_us'] / 1000:.2f}" if "p50_us" in r else "-"
                p99 = f"{r['p99_us'] / 1000:.2f}" if "p99_us" in r else "-"
                print(f"{impl:<30} {r['client']:<7} {n:>6} {r['rps']:>9.0f} {p50:>7} {p99:>7} "
                      f"{r['server_cpu'] * 1e6 / r['requests']:>7.2f} "
                      f"{r['idle_rss'] / 1e6:>6.1f} {r['peak_rss'] / 1e6:>6.1f} "
                      f"{r['per_conn']:>7.0f} {r['client_busy']:>7.0%} {r['server_busy']:>7.0%}"
                      f"  {bound_of(r)}")
        print()


def verdict(ok):
    return "met" if ok else "MISSED"


def print_targets(table):
    """The issue's targets, for weft, in this run."""
    print("W12 targets (weft against the others in this run):")
    any_line = False
    for n in sorted({k[1] for k in table}):
        weft = {r["client"]: r for r in table.get(("weft", n), [])}
        nginx = {r["client"]: r for r in table.get(("nginx return 200 (1 worker)", n), [])}
        uv = {r["client"]: r for r in table.get(("libuv minimal parser", n), [])}
        go = table.get(("Go net/http (GOMAXPROCS=1)", n), [])
        for client, w in weft.items():
            cpu = w["server_cpu"] * 1e6 / w["requests"]
            if client in nginx:
                ng = nginx[client]
                ncpu = ng["server_cpu"] * 1e6 / ng["requests"]
                print(f"  {client} {n}: CPU/1k {cpu:.2f} ms vs nginx {ncpu:.2f} = "
                      f"{cpu / ncpu:.2f}x (target <= 0.85x): {verdict(cpu <= 0.85 * ncpu)}")
                print(f"  {client} {n}: req/s {w['rps']:.0f} vs nginx {ng['rps']:.0f} = "
                      f"{w['rps'] / ng['rps']:.2f}x (target >= 1): {verdict(w['rps'] >= ng['rps'])}"
                      + (f" ({bound_of(w)}; nginx {bound_of(ng)})"))
                if "p99_us" in w and "p99_us" in ng:
                    print(f"  {client} {n}: p99 {w['p99_us'] / 1000:.2f} ms vs nginx "
                          f"{ng['p99_us'] / 1000:.2f} ms (target <=): "
                          f"{verdict(w['p99_us'] <= ng['p99_us'])}")
                any_line = True
            if client in uv:
                u = uv[client]
                ucpu = u["server_cpu"] * 1e6 / u["requests"]
                print(f"  {client} {n}: CPU/1k {cpu:.2f} ms vs libuv {ucpu:.2f} (target below): "
                      f"{verdict(cpu < ucpu)}")
                any_line = True
        if weft and go:
            w, g = next(iter(weft.values())), go[0]
            print(f"  {n}: RSS per idle connection {w['per_conn']:.0f} B vs Go {g['per_conn']:.0f}"
                  f" B (target below): {verdict(w['per_conn'] < g['per_conn'])}")
            any_line = True
    if not any_line:
        print("  (no weft row beside the peers it is measured against)")
    print()


# ---- main ------------------------------------------------------------------

def raise_nofile():
    """The soft descriptor limit raised to the hard one; the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


def port_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = map(int, f.read().split())
        return hi - lo + 1
    except (OSError, ValueError):
        return 28000


def connection_counts(cfg, nofile):
    counts, skipped = [], []
    for n in cfg.connections:
        # The runner holds n idle connections, the client n, the server n
        # (each process under its own limit, raised to the same hard one),
        # and every connection takes an ephemeral port.
        if n + 256 > nofile:
            skipped.append(f"{n} connections skipped: the descriptor limit is {nofile} "
                           f"(hard), {n + 256} needed")
        elif 2 * n > port_range():
            skipped.append(f"{n} connections skipped: {port_range()} ephemeral ports")
        else:
            counts.append(n)
    return counts, skipped


def cpus_for(cfg):
    """The server's and the client's CPUs, or Nones (no pinning) when this
    process may run on fewer than two."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2 or not shutil.which("taskset"):
        return None, None
    server = cfg.server_cpu if cfg.server_cpu in allowed else allowed[-1]
    client = cfg.client_cpu if cfg.client_cpu in allowed and cfg.client_cpu != server \
        else allowed[0]
    return server, client


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True, help="weft's build (its bench/ holds the programs)")
    ap.add_argument("--quick", action="store_true",
                    help="2 s runs, 100 connections only, a short warm-up (CI)")
    ap.add_argument("--duration", type=int, default=None,
                    help="whole seconds of each wrk run (5; 2 with --quick); h2load is given as "
                         "many requests as wrk served in that time")
    ap.add_argument("--connections", default=None,
                    help="comma-separated connection counts (100,1000,10000; 100 with --quick)")
    ap.add_argument("--clients", default="wrk,h2load", help="wrk,h2load (either or both)")
    ap.add_argument("--only", default=None, help="comma-separated parts of server names")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run everything this many times, the order alternating; the "
                         "median round is kept (by requests/s)")
    ap.add_argument("--server-cpu", type=int, default=1)
    ap.add_argument("--client-cpu", type=int, default=0)
    ap.add_argument("--rows", default=None, help="write bench_util.h rows here (compare.py)")
    args = ap.parse_args(argv)
    args.duration = args.duration or (2 if args.quick else 5)
    if args.connections:
        args.connections = [int(x) for x in args.connections.split(",") if x.strip()]
    else:
        args.connections = [100] if args.quick else list(CONNECTIONS)
    wanted = [c.strip() for c in args.clients.split(",")]
    # wrk first: h2load is given as many requests as wrk served.
    args.clients = [c for c in ("wrk", "h2load") if c in wanted]
    if not args.clients:
        ap.error("--clients: wrk, h2load or both")
    if not 1 <= args.duration <= 600 or not 1 <= args.rounds <= 9 or \
            any(not 1 <= n <= 100000 for n in args.connections):
        ap.error("--duration 1..600, --rounds 1..9, connections 1..100000")
    args.warmup = 1  # wrk counts whole seconds
    args.start_timeout = 20.0
    args.fallback_rps = 20000
    return args


def median_round(rounds):
    """The round whose first client's requests/s is the median."""
    rounds = sorted(rounds, key=lambda res: res[0]["rps"])
    return rounds[len(rounds) // 2]


def main(argv=None):
    cfg = parse_args(argv)
    # A SIGTERM or SIGHUP unwinds like Ctrl-C, so every server is stopped.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(143))
    missing_tools = [t for t in ("wrk", "h2load") if t in cfg.clients and not shutil.which(t)]
    for t in missing_tools:
        print(f"W12: {t} not installed (Debian: {'wrk' if t == 'wrk' else 'nghttp2-client'}): "
              "its rows are left out", file=sys.stderr)
    cfg.clients = [c for c in cfg.clients if c not in missing_tools]
    if not cfg.clients:
        print("W12: no load generator installed: nothing measured")
        return 0
    nofile = raise_nofile()
    cfg.server_cpu, cfg.client_cpu = cpus_for(cfg)
    if cfg.server_cpu is None:
        print("W12: fewer than two CPUs to run on (or no taskset): server and client are NOT "
              "pinned apart, and compete for the CPU", file=sys.stderr)
    counts, skipped = connection_counts(cfg, nofile)
    for s in skipped:
        print(f"W12: {s}", file=sys.stderr)
    specs = server_specs(cfg.build, nofile)
    if cfg.only:
        wanted = [w.strip().lower() for w in cfg.only.split(",") if w.strip()]
        specs = [s for s in specs if any(w in s.name.lower() for w in wanted)]
    missing = [f"{s.name} ({s.missing})" for s in specs if s.command is None]
    specs = [s for s in specs if s.command is not None]
    order = [s.name for s in specs]
    failures, table, rows = [], {}, []
    with tempfile.TemporaryDirectory(prefix="w12-lua-") as tmp:
        lua = os.path.join(tmp, "totals.lua")
        with open(lua, "w") as f:
            f.write(WRK_LUA)
        step = 0
        for n in counts:
            per_server = {}
            for rnd in range(cfg.rounds):
                # ABBA across connection counts and rounds.
                seq = specs if step % 2 == 0 else specs[::-1]
                step += 1
                for spec in seq:
                    if spec.name in failures:
                        continue
                    print(f"  W12 {spec.name}, {n} connections, round {rnd + 1} of "
                          f"{cfg.rounds} ...", file=sys.stderr, flush=True)
                    try:
                        per_server.setdefault(spec.name, []).append(measure(cfg, spec, n, lua))
                    except (CheckFailed, OSError, subprocess.SubprocessError) as e:
                        print(f"  W12 {spec.name} FAILED at {n} connections: {e}",
                              file=sys.stderr)
                        failures.append(spec.name)
            for name, rounds in per_server.items():
                if name in failures:
                    continue
                table[(name, n)] = median_round(rounds)
                rows += rows_of(name, n, table[(name, n)], rounds)
    print_table(table, order)
    print_targets(table)
    pin = (f"server on CPU {cfg.server_cpu}, clients on CPU {cfg.client_cpu}"
           if cfg.server_cpu is not None else "not pinned")
    print(f"W12: {pin}; wrk -d{cfg.duration:g}s; descriptor limit {nofile}; "
          f"{', '.join(skipped) or 'no connection count skipped'}")
    if missing:
        print("W12 servers not available: " + "; ".join(missing))
    if cfg.rows:
        with open(cfg.rows, "w") as f:
            f.write("workload,implementation,median_ns,min_ns,max_ns,cpu_ns,note\n")
            for r in rows:
                f.write(fmt_row(r) + "\n")
    if failures:
        print("W12 FAILED: " + ", ".join(sorted(set(failures))))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
