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
Prints "port N" once listening. Commands on stdin, one per line:
  rate N     read N bytes/s from now on
  pause      stop reading (the reader is blocked)
  resume     read again
It stops by itself when stdin closes (the test process ended).
"""
import socket
import sys
import threading
import time

TICK_S = 0.005          # how often the reader wakes up
BURST_S = 0.05          # most credit it may bank, in seconds of its rate
CHUNK_BYTES_MAX = 65536

state = {"rate": 0.0, "paused": False, "stop": False}
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
            time.sleep(TICK_S)
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
            data = up.recv(min(int(credit), CHUNK_BYTES_MAX))
            if not data:
                break
            credit -= len(data)
            client.sendall(data)
    except OSError:
        pass
    finally:
        shut_both(up, client)


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
        print("ok", flush=True)
    state["stop"] = True
    listener.close()


if __name__ == "__main__":
    main()
