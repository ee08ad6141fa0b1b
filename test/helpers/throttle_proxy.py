#!/usr/bin/env python3
"""A slow reader, for tests: a TCP proxy on 127.0.0.1 whose upstream socket
(toward the feed) has a small SO_RCVBUF and is read at a fixed byte rate.

Node cannot set SO_RCVBUF on a TCP socket, so the reader's slowness lives
here: the feed's socket sees a peer that reads `rate` bytes/s through a small
receive window, exactly like a slow client on a thin link. What the proxy
reads goes straight on to the test's WebSocket client (which reads promptly),
and everything the client sends (pongs, Acks, Subscribes) goes upstream at
once. WebSocket pings therefore come back only after the proxy has read every
byte queued before them, as they would from a slow client.

Usage: throttle_proxy.py UPSTREAM_PORT RCVBUF_BYTES RATE_BYTES_PER_S
While it has credit it reads as soon as bytes arrive (select), not once per
tick: through a 4 KB window one read per 5 ms tick capped it at ~0.8 MB/s
whatever its rate, so a paused reader's 200 KB backlog took 50 wake-ups after
`resume` (0.2-0.4 s here, more on a loaded machine). Out of credit, it sleeps
a tick, as before: slow rates read exactly as they did.

Its own lag is measured (a thread whose 5 ms sleeps are timed): a test can
tell a stalled proxy from a slow feed.

Prints "port N" once listening. Commands on stdin, one per line:
  rate N     read N bytes/s from now on
  pause      stop reading (the reader is blocked)
  resume     read again
  lag        answers "lag WORST_MS TOTAL_MS": this process's worst and summed
             lateness of its 5 ms sleeps since the last `lag` command
It stops by itself when stdin closes (the test process ended).
"""
import select
import socket
import sys
import threading
import time

TICK_S = 0.005          # how often the reader wakes up when out of credit (and most it waits in select)
BURST_S = 0.05          # most credit it may bank, in seconds of its rate
CHUNK_BYTES_MAX = 65536

state = {"rate": 0.0, "paused": False, "stop": False}
lag = {"worst_s": 0.0, "total_s": 0.0}
lock = threading.Lock()


def shut_both(a, b):
    """One side ended: end the other too, so each end sees the close."""
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def pipe_unthrottled(src, dst):
    try:
        while True:
            data = src.recv(CHUNK_BYTES_MAX)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        shut_both(src, dst)


def pipe_throttled(up, client):
    credit = 0.0
    last = time.monotonic()
    try:
        while not state["stop"]:
            if credit < 1:
                time.sleep(TICK_S)  # out of credit (or paused): earn some
            now = time.monotonic()
            with lock:
                rate, paused = state["rate"], state["paused"]
            if paused:
                credit = 0.0
                last = now
                continue
            credit = min(credit + rate * (now - last), max(1.0, rate * BURST_S))
            last = now
            if credit < 1:
                continue
            # Read as soon as bytes are there (waiting at most a tick, so a pause is seen within one).
            readable, _, _ = select.select([up], [], [], TICK_S)
            with lock:
                paused = state["paused"]
            if not readable or paused:
                continue
            data = up.recv(min(int(credit), CHUNK_BYTES_MAX))
            if not data:
                break
            credit -= len(data)
            client.sendall(data)
    except OSError:
        pass
    finally:
        shut_both(up, client)


def measure_lag():
    """This process's own lateness: how much later than asked its 5 ms sleeps end (load, the GIL)."""
    while not state["stop"]:
        asked = time.monotonic()
        time.sleep(TICK_S)
        late = time.monotonic() - asked - TICK_S
        if late > 0.001:
            with lock:
                lag["worst_s"] = max(lag["worst_s"], late)
                lag["total_s"] += late


def serve(listener, upstream_port, rcvbuf):
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        up = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        up.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect: it sets the window
        up.connect(("127.0.0.1", upstream_port))
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=pipe_unthrottled, args=(client, up), daemon=True).start()
        threading.Thread(target=pipe_throttled, args=(up, client), daemon=True).start()


def main():
    upstream_port, rcvbuf, rate = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    state["rate"] = rate
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    threading.Thread(target=serve, args=(listener, upstream_port, rcvbuf), daemon=True).start()
    threading.Thread(target=measure_lag, daemon=True).start()
    print(f"port {listener.getsockname()[1]}", flush=True)
    for line in sys.stdin:
        words = line.split()
        with lock:
            if words[:1] == ["rate"]:
                state["rate"] = float(words[1])
            elif words[:1] == ["pause"]:
                state["paused"] = True
            elif words[:1] == ["resume"]:
                state["paused"] = False
            elif words[:1] == ["lag"]:
                answer = f"lag {lag['worst_s'] * 1000:.1f} {lag['total_s'] * 1000:.1f}"
                lag["worst_s"] = lag["total_s"] = 0.0
        print(answer if words[:1] == ["lag"] else "ok", flush=True)
    state["stop"] = True
    listener.close()


if __name__ == "__main__":
    main()
