"""One streaming request to an OpenAI-compatible server, timed chunk by chunk (httpx, SSE)."""

from __future__ import annotations

import json
import math
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx

from garrison.bench.results import RequestRecord
from garrison.errors import InputError

Endpoint = Literal["chat", "completions"]


@dataclass(frozen=True)
class Target:
    """Where to send requests: `root` is scheme://host:port[/prefix] and `api` is root + /v1."""

    root: str
    api: str
    api_key: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}


def parse_target(url: str, api_key: str | None = None) -> Target:
    """Accept `https://host:port`, `.../v1` or `.../v1/`; refuse other schemes with a fix."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise InputError(
            "URL", f"scheme {parts.scheme or '(none)'!r} is not http or https", "use e.g. https://host:8443"
        )
    if not parts.netloc:
        raise InputError("URL", f"{url!r} has no host", "use e.g. https://host:8443")
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        path = path[: -len("/v1")]
    root = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    return Target(root=root, api=root + "/v1", api_key=api_key or None)


def ssl_context(ca: str | None, insecure: bool) -> ssl.SSLContext | bool:
    """The verify argument for httpx: a context trusting `ca`, False for --insecure, else system CAs."""
    if insecure:
        return False
    if ca:
        try:
            return ssl.create_default_context(cafile=ca)
        except (OSError, ssl.SSLError) as e:
            raise InputError("--ca", f"cannot load CA file {ca}: {e}", "give a PEM certificate file") from e
    return True


def request_body(
    endpoint: Endpoint, model: str, prompt: str, max_tokens: int, ignore_eos: bool
) -> dict[str, Any]:
    """The JSON body: streaming, usage in the last chunk, and `ignore_eos` so every request produces
    exactly `max_tokens` (a vLLM, SGLang and llama.cpp extension; other servers may reject it)."""
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.0,
    }
    if ignore_eos:
        body["ignore_eos"] = True
    if endpoint == "chat":
        body["messages"] = [{"role": "user", "content": prompt}]
    else:
        body["prompt"] = prompt
    return body


def _chunk_text(obj: dict[str, Any], endpoint: Endpoint) -> str:
    choices = obj.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        return ""
    c = choices[0]
    if endpoint == "completions":
        return str(c.get("text") or "")
    delta = c.get("delta") or {}
    # reasoning models stream their thinking in a separate field; it is output tokens all the same
    return str(delta.get("content") or delta.get("reasoning_content") or delta.get("reasoning") or "")


def classify_exception(e: BaseException) -> tuple[str, str]:
    """Map a transport failure to an error type: timeout, connect, reset or malformed_stream."""
    if isinstance(e, httpx.TimeoutException):
        return "timeout", type(e).__name__
    if isinstance(e, httpx.ConnectError):
        return "connect", str(e)[:200]
    if isinstance(e, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, ConnectionError)):
        return "reset", str(e)[:200] or type(e).__name__
    if isinstance(e, httpx.DecodingError):
        return "malformed_stream", str(e)[:200]
    if isinstance(e, httpx.TransportError):
        return "reset", f"{type(e).__name__}: {e}"[:200]
    raise e


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    v = value.strip()
    try:
        secs = float(v)
    except ValueError:
        try:
            when = parsedate_to_datetime(v)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        secs = (when - (now or datetime.now(timezone.utc))).total_seconds()
    return max(0.0, secs) if math.isfinite(secs) else None


_DONE, _STOP = object(), object()


def _headers(target: Target) -> dict[str, str]:
    # uncompressed: the body is read raw (SSE is not compressed by the engines in any case)
    return {**target.headers, "Accept-Encoding": "identity"}


def _take_line(line: bytes, rec: RequestRecord, endpoint: Endpoint, now: float, done: bool) -> object:
    """Handle one SSE line: record a content chunk's time on `rec`; return _DONE at `data: [DONE]`,
    _STOP with `rec.error` set for a malformed or error line, the usage object when one comes."""
    if not line or line.startswith((b":", b"event:", b"id:", b"retry:")):
        return None
    if not line.startswith(b"data:"):
        rec.error, rec.error_detail = "malformed_stream", f"not an SSE line: {line[:80]!r}"
        return _STOP
    if done:
        return None  # read to the end of the body so the connection goes back to the pool
    data = line[5:].strip()
    if data == b"[DONE]":
        return _DONE
    try:
        obj = json.loads(data)
    except ValueError:
        rec.error, rec.error_detail = "malformed_stream", f"bad JSON in data line: {data[:80]!r}"
        return _STOP
    if not isinstance(obj, dict):
        rec.error, rec.error_detail = "malformed_stream", "data line is not a JSON object"
        return _STOP
    if "error" in obj and not obj.get("choices"):
        rec.error, rec.error_detail = "stream_error", str(obj["error"])[:200]
        return _STOP
    if _chunk_text(obj, endpoint):
        if rec.first_token_s is None:
            rec.first_token_s = now
        rec.token_times_s.append(now)
    usage = obj.get("usage")
    return usage if isinstance(usage, dict) else None


async def stream_request(
    client: httpx.AsyncClient,
    target: Target,
    endpoint: Endpoint,
    body: dict[str, Any],
    prompt_tokens_hint: int,
) -> RequestRecord:
    """Send one streaming request and time it. Never raises for server or network faults: the record
    carries the error type. Token counts come from the final `usage` chunk when the server sends one;
    otherwise output = content chunks and input = the workload's stated prompt length."""
    path = "/chat/completions" if endpoint == "chat" else "/completions"
    rec = RequestRecord(start_s=time.perf_counter())
    usage: dict[str, Any] | None = None
    done = False
    try:
        async with client.stream("POST", target.api + path, json=body, headers=_headers(target)) as resp:
            if resp.status_code != 200:
                await resp.aread()
                rec.error = f"http_{resp.status_code}"
                rec.error_detail = resp.text[:200]
                rec.retry_after_s = parse_retry_after(resp.headers.get("retry-after"))
                return rec
            # The body is read raw and split into lines here: httpx's text and line decoders cost
            # ~10% of the client's CPU per token (profiled at 64 streams). A body that is compressed
            # anyway goes through httpx's decoder. One timestamp per read: its lines arrived together.
            identity = resp.headers.get("content-encoding", "identity").lower() == "identity"
            reads = resp.aiter_raw() if identity else resp.aiter_bytes()
            pending = b""
            async for raw in reads:
                now = time.perf_counter()
                pending += raw
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    verdict = _take_line(line.rstrip(b"\r"), rec, endpoint, now, done)
                    if verdict is _DONE:
                        done = True
                    elif verdict is _STOP:
                        return rec
                    elif isinstance(verdict, dict):
                        usage = verdict
            if pending.strip():
                rec.error, rec.error_detail = "malformed_stream", "stream ended inside a line"
                return rec
            if not done:
                rec.error, rec.error_detail = "malformed_stream", "stream ended without data: [DONE]"
                return rec
    except Exception as e:  # transport faults become typed errors; anything else is a bug and re-raises
        rec.error, rec.error_detail = classify_exception(e)
        return rec
    finally:
        rec.end_s = time.perf_counter()
    if rec.first_token_s is None:
        rec.error, rec.error_detail = "malformed_stream", "no content chunk before [DONE]"
        return rec
    if usage and isinstance(usage.get("completion_tokens"), int):
        rec.output_tokens = int(usage["completion_tokens"])
        rec.input_tokens = int(usage.get("prompt_tokens") or prompt_tokens_hint)
        rec.tokens_from_usage = True
    else:
        rec.output_tokens = len(rec.token_times_s)
        rec.input_tokens = prompt_tokens_hint
    return rec
