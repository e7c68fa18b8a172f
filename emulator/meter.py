"""A byte meter for the tests of rate caps (--max-bandwidth): the bytes
each S3 request body brought in and each response body sent out, summed
per 100 ms of the monotonic clock, as the emulator read or wrote them.

  GET    /_vmie/meter   {"tick_ms": 100, "in": [[tick, bytes], ...], "out": [...]}
  DELETE /_vmie/meter   start counting afresh
  POST   /_vmie/meter   {"send_buffer": BYTES}: fine counting from now on: bodies
                        read and written in 64 KiB pieces (not 1 MiB), and
                        connections accepted get that SO_SNDBUF, so that what is
                        counted as written is close to what the client has read
                        (the kernel's autotuned buffer would hold megabytes)
"""
import collections
import threading
import time

TICK_MS = 100
KEEP_TICKS = 36000  # one hour
FINE_BLOCK = 64 << 10


class Meter:
    def __init__(self):
        self.lock = threading.Lock()
        self.send_buffer = None
        self.clear()

    def block(self, default):
        """The size to read or write a body in."""
        return FINE_BLOCK if self.send_buffer else default

    def clear(self):
        with self.lock:
            self.ticks = {"in": collections.OrderedDict(), "out": collections.OrderedDict()}

    def add(self, direction, n):
        tick = int(time.monotonic() * 1000) // TICK_MS
        with self.lock:
            t = self.ticks[direction]
            t[tick] = t.get(tick, 0) + n
            while len(t) > KEEP_TICKS:
                t.popitem(last=False)

    def snapshot(self):
        with self.lock:
            return {"tick_ms": TICK_MS,
                    "in": [[k, v] for k, v in self.ticks["in"].items()],
                    "out": [[k, v] for k, v in self.ticks["out"].items()]}
