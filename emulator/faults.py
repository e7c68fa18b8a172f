"""Fault injection for tests (driven through the control API).

A fault applies to the next `count` requests of one operation
(optionally of one service) and can: answer an error (HTTP status + AWS
code + message), add latency, or reset the connection after K bytes of
the request body (uploads) or of the response body (downloads)."""
import threading


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.pending = []

    def add(self, spec):
        if not spec.get("operation"):
            raise ValueError("a fault needs an 'operation'")
        spec = dict(spec)
        spec.setdefault("count", 1)
        with self.lock:
            self.pending.append(spec)
        return spec

    def clear(self):
        with self.lock:
            self.pending.clear()

    def take(self, service, operation):
        with self.lock:
            for spec in self.pending:
                if spec["operation"] != operation:
                    continue
                if spec.get("service") not in (None, service):
                    continue
                spec["count"] -= 1
                if spec["count"] <= 0:
                    self.pending.remove(spec)
                return spec
        return None

    def snapshot(self):
        with self.lock:
            return [dict(s) for s in self.pending]
