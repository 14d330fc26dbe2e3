#!/usr/bin/env python3
"""Abusive clients for scripts/bench-abuse.sh: slow senders, oversized headers,
oversized bodies and forms with too many fields, against one Guichet, for a
fixed time. Prints what the server answered to each kind, so a run shows the
answers stayed bounded (431, 413, 408 or a closed connection), never a hang.

Usage: abuse.py HOST PORT SECONDS
"""
import asyncio
import collections
import sys
import time

HOST, PORT, SECONDS = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
seen = collections.Counter()


async def status_of(reader, limit=15.0):
    try:
        line = await asyncio.wait_for(reader.readline(), limit)
    except asyncio.TimeoutError:
        return "no answer"
    except ConnectionError:
        return "reset"
    if not line:
        return "closed"
    parts = line.split()
    return parts[1].decode() if len(parts) > 1 else "garbage"


async def once(kind, payload_writer):
    try:
        reader, writer = await asyncio.open_connection(HOST, PORT)
    except OSError:
        seen[(kind, "refused")] += 1
        return
    try:
        try:
            await payload_writer(writer)
        except ConnectionError:
            pass  # the server gave up on us first; its answer may be waiting
        seen[(kind, await status_of(reader))] += 1
    finally:
        writer.close()


async def huge_headers(w):
    w.write(b"GET /oauth2/jwks HTTP/1.1\r\nHost: x\r\n")
    w.write(b"X-Junk: " + b"a" * 100_000 + b"\r\n\r\n")
    await w.drain()


async def huge_body(w):
    body = b"a=" + b"b" * (2 * 1024 * 1024)
    w.write(b"POST /oauth2/token HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))
    w.write(body)
    await w.drain()


async def many_fields(w):
    body = "&".join(f"f{i}=v" for i in range(5000)).encode()
    w.write(b"POST /oauth2/token HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))
    w.write(body)
    await w.drain()


async def slow_headers(w):
    # Slowloris: a header line a byte at a time, never finished.
    w.write(b"GET /oauth2/jwks HTTP/1.1\r\nHost: x\r\n")
    await w.drain()
    for _ in range(40):
        w.write(b"X")
        await w.drain()
        await asyncio.sleep(1)


async def slow_body(w):
    w.write(b"POST /oauth2/token HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 100000\r\n\r\n")
    await w.drain()
    for _ in range(60):
        w.write(b"a")
        await w.drain()
        await asyncio.sleep(1)


async def loop(kind, fn, pause):
    end = time.monotonic() + SECONDS
    while time.monotonic() < end:
        await once(kind, fn)
        await asyncio.sleep(pause)


async def main():
    jobs = []
    for _ in range(50):
        jobs.append(loop("slow headers", slow_headers, 0))
        jobs.append(loop("slow body", slow_body, 0))
    for _ in range(2):
        jobs.append(loop("100 KB of headers", huge_headers, 0.05))
        jobs.append(loop("2 MiB body", huge_body, 0.2))
        jobs.append(loop("5000 form fields", many_fields, 0.05))
    try:
        await asyncio.wait_for(asyncio.gather(*jobs), SECONDS + 20)
    except asyncio.TimeoutError:
        pass  # the slow clients still trickling when time is up
    for (kind, answer), n in sorted(seen.items()):
        print(f"{kind}\t{answer}\t{n}")


asyncio.run(main())
