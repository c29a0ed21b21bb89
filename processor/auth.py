"""API keys for the receivers: created and revoked with `llmledger keys`, kept hashed.

A key looks like `llk_<id>_<secret>`. The keys file stores the id, the SHA-256 of the
secret (the secret has 192 random bits, so a plain hash is enough: nothing to brute
force), the app/tenant it is bound to, and when it was revoked. The running service
re-reads the file when it changes, so a revocation takes effect within a second.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .pipeline import Principal

KEY_PREFIX = "llk_"


@dataclass
class StoredKey:
    id: str
    secret_sha256: str
    name: str = ""
    app: str = ""
    tenant: str = ""
    created_at: float = 0.0
    revoked_at: float | None = None
    trust_reported_cost: bool = False  # its spans' own cost figures replace the price


class KeyStore:
    def __init__(self, path: Path):
        self.path = Path(path)

    def load(self) -> list[StoredKey]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return []
        except ValueError as exc:
            raise ValueError(f"{self.path}: not a valid keys file: {exc}") from None
        return [StoredKey(**entry) for entry in data.get("keys", [])]

    def _save(self, keys: list[StoredKey]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"keys": [asdict(k) for k in keys]}, f, indent=2)
        os.replace(temporary, self.path)

    def create(self, *, name: str = "", app: str = "", tenant: str = "",
               trust_reported_cost: bool = False) -> tuple[StoredKey, str]:
        """Returns the stored entry and the key itself, which is shown once and never stored."""
        key_id = secrets.token_hex(4)
        secret = secrets.token_urlsafe(24)
        entry = StoredKey(id=key_id, secret_sha256=_sha256(secret), name=name, app=app, tenant=tenant,
                          created_at=time.time(), trust_reported_cost=trust_reported_cost)
        self._save(self.load() + [entry])
        return entry, f"{KEY_PREFIX}{key_id}_{secret}"

    def revoke(self, key_id: str) -> bool:
        keys = self.load()
        found = False
        for key in keys:
            if key.id == key_id and key.revoked_at is None:
                key.revoked_at = time.time()
                found = True
        if found:
            self._save(keys)
        return found


def keys_path(config) -> Path:
    return Path(config.auth.keys_file or Path(config.storage.data_dir) / "api-keys.json")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Authenticator:
    """`authenticate(headers) -> Principal`, raising PermissionError for a missing or bad key.

    Accepts `Authorization: Bearer <key>` (what OTEL_EXPORTER_OTLP_HEADERS usually sets)
    or `x-api-key: <key>`; `headers` is any mapping with lowercase names."""

    _RELOAD_EVERY_S = 1.0

    def __init__(self, store: KeyStore):
        self._store = store
        self._lock = threading.Lock()
        self._keys: dict[str, StoredKey] = {}
        self._mtime: float | None = -1.0
        self._checked_at = 0.0
        self._reload()

    def _reload(self) -> None:
        try:
            mtime = self._store.path.stat().st_mtime
        except FileNotFoundError:
            mtime = None
        if mtime != self._mtime:
            self._keys = {k.id: k for k in self._store.load()}
            self._mtime = mtime

    def __call__(self, headers) -> Principal:
        now = time.monotonic()
        if now - self._checked_at > self._RELOAD_EVERY_S:
            with self._lock:
                self._checked_at = now
                self._reload()
        presented = _presented_key(headers)
        if presented is None:
            raise PermissionError("missing API key: send 'Authorization: Bearer <key>'")
        if not presented.startswith(KEY_PREFIX) or presented.count("_") < 2:
            raise PermissionError("malformed API key")
        key_id, secret = presented[len(KEY_PREFIX):].split("_", 1)
        key = self._keys.get(key_id)
        if key is None or not hmac.compare_digest(key.secret_sha256, _sha256(secret)):
            raise PermissionError("invalid API key")
        if key.revoked_at is not None:
            raise PermissionError("API key revoked")
        return Principal(key_id=key.id, app=key.app, tenant=key.tenant, trust_reported_cost=key.trust_reported_cost)


def _presented_key(headers) -> str | None:
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else None
    return headers.get("x-api-key")
