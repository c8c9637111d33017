#!/usr/bin/env python3
"""Keystroke echo round trip through `docker exec -it` in a real pty (the anchor of P3).

Usage: pty_echo.py CONTAINER_ID KEYS WARMUP
Prints one JSON object: {"samples_ms": [...]}.
"""
import json, os, pty, select, sys, time

container, keys, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
pid, fd = pty.fork()
if pid == 0:
    os.execvp("docker", ["docker", "exec", "-it", container, "sh"])

def read_until(pred, timeout=15.0):
    data = b""
    end = time.monotonic() + timeout
    while not pred(data):
        r, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
        if not r:
            raise SystemExit("timeout waiting for the shell")
        data += os.read(fd, 65536)
    return data

read_until(lambda d: b"#" in d or b"$" in d)
time.sleep(0.2)
while select.select([fd], [], [], 0.05)[0]:
    os.read(fd, 65536)

samples = []
for i in range(warmup + keys):
    if i and i % 100 == 0:
        os.write(fd, b"\x15")  # Ctrl-U: clear the line now and then
        time.sleep(0.02)
        while select.select([fd], [], [], 0.02)[0]:
            os.read(fd, 65536)
    start = time.perf_counter_ns()
    os.write(fd, b"x")
    read_until(lambda d: b"x" in d)
    elapsed = (time.perf_counter_ns() - start) / 1e6
    if i >= warmup:
        samples.append(elapsed)

os.write(fd, b"\x15exit\r")
try:
    os.waitpid(pid, 0)
except ChildProcessError:
    pass
print(json.dumps({"samples_ms": samples}))
