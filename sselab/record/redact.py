"""Secrets out of a recording before anything touches disk.

Headers that carry credentials (``Authorization``, ``x-api-key``, ``api-key``,
``x-goog-api-key``, ``Proxy-Authorization``, ``Cookie``, ``Set-Cookie``, AWS session tokens) and
credential query parameters (``key=`` as Gemini takes it, ``api-key``, ``access_token``, SAS
``sig``...) are replaced by ``<redacted>``. Then every secret value found that way is also
scrubbed from everything else written (bodies, pieces, other headers): an upstream that echoes a
key back does not get it into the file either.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "<redacted>"
SECRET_HEADERS = frozenset({
    "authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key",
    "cookie", "set-cookie", "x-amz-security-token", "ocp-apim-subscription-key",
})
SECRET_PARAMS = frozenset({
    "key", "api-key", "api_key", "apikey", "access_token", "token", "sig",
    "x-amz-signature", "x-amz-credential", "x-amz-security-token",
})
_MIN_SECRET = 6  # shorter values ("x", "test") are not scrubbed from other text


class Redactor:
    """Collects the secrets of one exchange and removes them from what is written."""

    def __init__(self, extra_headers: Iterable[str] = ()) -> None:
        self.headers = SECRET_HEADERS | {h.lower() for h in extra_headers}
        self.secrets: set[str] = set()

    def _keep(self, value: str) -> None:
        for part in (value, *value.split()):  # "Bearer sk-..." : the token on its own too
            if len(part) >= _MIN_SECRET and part.lower() not in ("bearer", "basic"):
                self.secrets.add(part)

    def header_lines(self, pairs: Iterable[tuple[str, str]]) -> list[str]:
        """``Name: value`` lines, credential headers redacted (first pass: collect them all)."""
        pairs = list(pairs)
        for name, value in pairs:
            if name.lower() in self.headers:
                self._keep(value)
        return [f"{name}: {REDACTED if name.lower() in self.headers else self.text(value)}"
                for name, value in pairs]

    def query(self, query: str) -> str:
        """A query string with credential parameters' values redacted."""
        if not query:
            return ""
        pairs = parse_qsl(query, keep_blank_values=True)
        out = []
        for name, value in pairs:
            if name.lower() in SECRET_PARAMS:
                self._keep(value)
                value = REDACTED
            out.append((name, value))
        return urlencode(out, safe="<>")

    def url(self, url: str) -> str:
        """An upstream URL without user:password and with its query redacted."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, self.query(parts.query), ""))

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value

    def data(self, value: bytes) -> bytes:
        for secret in self.secrets:
            raw = secret.encode("utf-8", "surrogateescape")
            if raw in value:
                value = value.replace(raw, REDACTED.encode())
        return value

    def json(self, value: object) -> object:
        """A parsed JSON value with every string scrubbed."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(v) for v in value]
        if isinstance(value, dict):
            return {self.text(str(k)): self.json(v) for k, v in value.items()}
        return value
