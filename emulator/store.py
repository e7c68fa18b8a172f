"""Persistent state: resources as JSON (one file per kind under db/),
S3 object bytes as files (owned by the S3 service under s3/).  A test can
stop and restart the emulator on the same state dir and find everything
as it was."""
import json
import os
import secrets
import threading


class Store:
    def __init__(self, state_dir):
        self.dir = state_dir
        self.db_dir = os.path.join(state_dir, "db")
        os.makedirs(self.db_dir, exist_ok=True)
        self.lock = threading.RLock()
        self._tables = {}
        for name in os.listdir(self.db_dir):
            if name.endswith(".json"):
                with open(os.path.join(self.db_dir, name)) as f:
                    self._tables[name[:-5]] = json.load(f)

    def table(self, kind):
        """The dict id -> record of one kind.  Mutate it under self.lock,
        then call save(kind)."""
        with self.lock:
            return self._tables.setdefault(kind, {})

    def save(self, kind):
        with self.lock:
            path = os.path.join(self.db_dir, kind + ".json")
            tmp = path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self._tables.get(kind, {}), f, indent=1, sort_keys=True)
            os.replace(tmp, path)

    def path(self, *parts):
        """A path under the state dir (parents created)."""
        p = os.path.join(self.dir, *parts)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        return p


def new_id(prefix, hexlen=17):
    """AWS-style ids: ami-0123456789abcdef0, import-ami-..., i-..."""
    return f"{prefix}-{secrets.token_hex((hexlen + 1) // 2)[:hexlen]}"
