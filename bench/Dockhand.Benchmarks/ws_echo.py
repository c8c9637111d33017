#!/usr/bin/env python3
"""Keystroke echo round trip through Dockhand's web terminal, with a client built like pty_echo.py's (P3).

One blocking loop, no threads: write one masked frame, read frames until the echo. Both paths of P3 then have the
same kind of client, so the ratio compares the servers' paths, not a .NET client against a Python one.

Usage: ws_echo.py LINK KEYS WARMUP
LINK is a one-time terminal link (http://HOST:PORT/terminal/ID?token=...). Prints {"samples_ms": [...]}.
"""
import base64, http.client, json, os, select, socket, struct, sys, time, urllib.parse

link, keys, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
url = urllib.parse.urlsplit(link)
origin = f"{url.scheme}://{url.netloc}"
path = url.path.rstrip("/")
token = urllib.parse.parse_qs(url.query)["token"][0]

# What the terminal page's script does: redeem the token with a same-origin POST, then open the socket with the cookie.
http_connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
http_connection.request("POST", path + "/session", body=json.dumps({"token": token}),
                        headers={"Content-Type": "application/json", "Origin": origin})
response = http_connection.getresponse()
response.read()
if response.status != 200:
    raise SystemExit(f"the terminal link answered {response.status}")
cookie = "; ".join(c.split(";", 1)[0] for c in response.headers.get_all("Set-Cookie") or [])
http_connection.close()

sock = socket.create_connection((url.hostname, url.port), timeout=30)
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
sock.sendall((f"GET {path}/ws HTTP/1.1\r\nHost: {url.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n"
              f"Origin: {origin}\r\nCookie: {cookie}\r\n\r\n").encode())
pending = b""
while b"\r\n\r\n" not in pending:
    chunk = sock.recv(65536)
    if not chunk:
        raise SystemExit("the server closed the connection during the WebSocket handshake")
    pending += chunk
head, pending = pending.split(b"\r\n\r\n", 1)
status_line = head.split(b"\r\n", 1)[0]
if b" 101 " not in status_line:
    raise SystemExit("no WebSocket upgrade: " + status_line.decode())
sock.setblocking(True)
sock.settimeout(None)


def take(count):
    global pending
    while len(pending) < count:
        r, _, _ = select.select([sock], [], [], 15.0)
        if not r:
            raise SystemExit("timeout waiting for the terminal")
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("the terminal closed")
        pending += chunk
    data, pending = pending[:count], pending[count:]
    return data


def send(opcode, payload):
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)  # client frames are masked (RFC 6455 5.3)


def next_frame():
    """The next frame as (opcode, payload); answers pings."""
    first, second = take(2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack(">H", take(2))[0]
    elif length == 127:
        length = struct.unpack(">Q", take(8))[0]
    payload = take(length)
    opcode = first & 0x0F
    if opcode == 0x8:
        raise SystemExit("the terminal closed")
    if opcode == 0x9:
        send(0xA, payload)
    return opcode, payload


def read_until(pred):
    """Reads until a binary frame satisfies pred; text frames are the server's JSON status messages."""
    while True:
        opcode, payload = next_frame()
        if opcode in (0x0, 0x2) and pred(payload):
            return


def drain(quiet):
    while pending or select.select([sock], [], [], quiet)[0]:
        next_frame()


read_until(lambda d: b"#" in d or b"$" in d)
time.sleep(0.2)
drain(0.05)

samples = []
for i in range(warmup + keys):
    if i and i % 100 == 0:
        send(0x2, b"\x15")  # Ctrl-U: clear the line now and then
        time.sleep(0.02)
        drain(0.02)
    start = time.perf_counter_ns()
    send(0x2, b"x")
    read_until(lambda d: b"x" in d)
    elapsed = (time.perf_counter_ns() - start) / 1e6
    if i >= warmup:
        samples.append(elapsed)

send(0x8, struct.pack(">H", 1000))
sock.close()
print(json.dumps({"samples_ms": samples}))
