"""The link between the client and "AWS", for benchmarks: --s3-bandwidth
caps the bytes of request and response bodies, all connections together,
to a rate, as an uplink or a downlink would.  Without it the loopback,
not the client, sets the pace, and bytes sent would cost nothing."""
import threading
import time


class Throttle:
    def __init__(self, bytes_per_second):
        self.rate = float(bytes_per_second)
        self.lock = threading.Lock()
        self.free_at = 0.0  # when the link has sent everything queued

    def take(self, n):
        """Wait until n more bytes fit through the link."""
        if n <= 0:
            return
        with self.lock:
            now = time.monotonic()
            self.free_at = max(self.free_at, now) + n / self.rate
            wait = self.free_at - now
        if wait > 0:
            time.sleep(wait)


class Unlimited:
    def take(self, n):
        pass
