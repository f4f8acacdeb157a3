"""A FAKE OpenAI-compatible streaming server (stdlib asyncio only) for fault injection and for the
load-generator benchmark. It is a stand-in for faults a real server will not produce on demand.

Each POST takes the next behaviour from a cycle: ok, http500, stall, reset, malformed, truncated, http429
(a 429 with `Retry-After: 1`).
    python stub_server.py [--behaviours ok,http500,...] [--token-delay-ms 0] [--api-key K] [--not-openai]
                          [--metrics llamacpp|vllm|html|json|vllm-then-html]
`--metrics` picks what GET /metrics answers: llama.cpp's gauges, vLLM's gauges and TTFT/ITL histograms
(from the stub's own timings), a gateway's HTML or JSON catch-all, or vLLM text for two scrapes and
HTML after that (a proxy that starts failing mid-run).
It prints `PORT <n>` on stdout once listening on 127.0.0.1. GET /stats returns server-side timings
(server TTFT per request) so a client can compare its own timestamps with the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import socket
import struct
import sys
import time

METRICS = """# HELP llamacpp:requests_processing Number of requests processing.
# TYPE llamacpp:requests_processing gauge
llamacpp:requests_processing {running}
# HELP llamacpp:requests_deferred Number of requests deferred.
# TYPE llamacpp:requests_deferred gauge
llamacpp:requests_deferred 0
# HELP llamacpp:tokens_predicted_total Number of generation tokens processed
# TYPE llamacpp:tokens_predicted_total counter
llamacpp:tokens_predicted_total {tokens}
"""
VLLM_GAUGES = """# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{{engine="0",model_name="stub"}} {running}
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{{engine="0",model_name="stub"}} 0.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{{engine="0",model_name="stub"}} 0.25
# HELP vllm:generation_tokens_total Number of generation tokens processed.
# TYPE vllm:generation_tokens_total counter
vllm:generation_tokens_total{{engine="0",model_name="stub"}} {tokens}
"""
BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def histogram(name: str, values: list[float]) -> str:
    """Prometheus text for one histogram of `values` (seconds), vLLM's label set."""
    lab = 'engine="0",model_name="stub"'
    out = [f"# TYPE {name} histogram"]
    for le in BUCKETS_S:
        out.append(f'{name}_bucket{{{lab},le="{le}"}} {sum(1 for v in values if v <= le)}')
    out.append(f'{name}_bucket{{{lab},le="+Inf"}} {len(values)}')
    out.append(f"{name}_sum{{{lab}}} {sum(values)}")
    out.append(f"{name}_count{{{lab}}} {len(values)}")
    return "\n".join(out) + "\n"


class Stub:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.cycle = itertools.cycle(args.behaviours.split(","))
        self.running = 0
        self.server_ttft: list[float] = []
        self.server_itl: list[float] = []
        self.tokens_sent = 0
        self.scrapes = 0
        self.prompts: set[str] = set()
        self.posts = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                t_recv = time.perf_counter()
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if not await self.route(method, path, headers, body, writer, t_recv):
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    def send(self, writer: asyncio.StreamWriter, status: str, ctype: str, payload: bytes) -> None:
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )

    async def route(self, method, path, headers, body, writer, t_recv) -> bool:  # type: ignore[no-untyped-def]
        a = self.args
        if path == "/stats":
            self.send(
                writer,
                "200 OK",
                "application/json",
                json.dumps(
                    {
                        "server_ttft_s": self.server_ttft,
                        "server_itl_sum_s": sum(self.server_itl),
                        "posts": self.posts,
                        "distinct_prompts": len(self.prompts),
                        "server_itl_count": len(self.server_itl),
                        "tokens_sent": self.tokens_sent,
                        "cpu_s": time.process_time(),
                    }
                ).encode(),
            )
            return True
        if path == "/health":
            self.send(writer, "200 OK", "application/json", b'{"status":"ok"}')
            return True
        if a.api_key and headers.get("authorization") != f"Bearer {a.api_key}":
            self.send(writer, "401 Unauthorized", "application/json", b'{"error":{"message":"bad key"}}')
            return True
        if path == "/metrics":
            self.scrapes += 1
            flavour = a.metrics
            if flavour == "vllm-then-html":
                flavour = "vllm" if self.scrapes <= 2 else "html"
            if flavour == "html":
                self.send(
                    writer, "200 OK", "text/html", b"<html><body><h1>Welcome to nginx!</h1></body></html>"
                )
            elif flavour == "json":
                self.send(writer, "200 OK", "application/json", b'{"detail":"Not Found"}')
            elif flavour == "vllm":
                text = VLLM_GAUGES.format(running=self.running, tokens=self.tokens_sent)
                text += histogram("vllm:time_to_first_token_seconds", self.server_ttft)
                text += histogram("vllm:inter_token_latency_seconds", self.server_itl)
                self.send(writer, "200 OK", "text/plain; version=0.0.4", text.encode())
            else:
                text = METRICS.format(running=self.running, tokens=self.tokens_sent)
                self.send(writer, "200 OK", "text/plain; version=0.0.4", text.encode())
            return True
        if a.not_openai:
            self.send(writer, "200 OK", "text/html", b"<html><body>hello, I am a blog</body></html>")
            return True
        if path == "/v1/models":
            self.send(
                writer,
                "200 OK",
                "application/json",
                json.dumps({"object": "list", "data": [{"id": a.model, "object": "model"}]}).encode(),
            )
            return True
        if method != "POST" or path not in ("/v1/chat/completions", "/v1/completions"):
            self.send(writer, "404 Not Found", "application/json", b'{"error":"not found"}')
            return True
        req = json.loads(body)
        self.posts += 1
        self.prompts.add(json.dumps(req.get("messages") or req.get("prompt")))
        return await self.stream(req, path.endswith("chat/completions"), writer, t_recv, next(self.cycle))

    async def stream(self, req, chat, writer, t_recv, behaviour) -> bool:  # type: ignore[no-untyped-def]
        if behaviour == "http500":
            self.send(writer, "500 Internal Server Error", "application/json", b'{"error":"boom"}')
            return True
        if behaviour == "http429":
            payload = b'{"error":"rate limited"}'
            writer.write(
                b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
                + f"Content-Length: {len(payload)}\r\n\r\n".encode()
                + payload
            )
            return True
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        n = int(req.get("max_tokens") or req.get("max_completion_tokens") or 16)
        delay = self.args.token_delay_ms / 1000
        self.running += 1
        last = t_recv
        try:
            for i in range(n):
                if behaviour in ("stall", "reset", "malformed", "truncated") and i == 2:
                    await writer.drain()
                    if behaviour == "stall":
                        await asyncio.sleep(3600)
                    if behaviour == "reset":  # RST: linger 0 then close
                        sock = writer.get_extra_info("socket")
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        writer.transport.abort()
                        return False
                    if behaviour == "malformed":
                        self.chunk(writer, b"data: {this is not json\n\n")
                    if behaviour == "truncated":  # a clean end of the body without data: [DONE]
                        writer.write(b"0\r\n\r\n")
                        await writer.drain()
                        return True
                piece = {"delta": {"content": "tok "}} if chat else {"text": "tok "}
                obj = {
                    "id": "x",
                    "object": "chat.completion.chunk" if chat else "text_completion",
                    "created": 0,
                    "model": self.args.model,
                    "choices": [{"index": 0, **piece, "finish_reason": None}],
                }
                now = time.perf_counter()
                if i == 0:
                    self.server_ttft.append(now - t_recv)
                else:
                    self.server_itl.append(now - last)
                last = now
                self.chunk(writer, b"data: " + json.dumps(obj).encode() + b"\n\n")
                self.tokens_sent += 1
                if delay:
                    await writer.drain()
                    await asyncio.sleep(delay)
                elif i % 16 == 15:
                    await writer.drain()
            usage = {"prompt_tokens": 7, "completion_tokens": n, "total_tokens": n + 7}
            self.chunk(writer, b"data: " + json.dumps({"choices": [], "usage": usage}).encode() + b"\n\n")
            self.chunk(writer, b"data: [DONE]\n\n")
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            return True
        finally:
            self.running -= 1

    @staticmethod
    def chunk(writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(b"%x\r\n%s\r\n" % (len(data), data))


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--behaviours", default="ok")
    ap.add_argument("--token-delay-ms", type=float, default=0.0)
    ap.add_argument("--api-key", default="")
    ap.add_argument("--model", default="stub")
    ap.add_argument("--not-openai", action="store_true")
    ap.add_argument(
        "--metrics", default="llamacpp", choices=["llamacpp", "vllm", "html", "json", "vllm-then-html"]
    )
    args = ap.parse_args()
    stub = Stub(args)
    server = await asyncio.start_server(stub.handle, "127.0.0.1", args.port, backlog=4096)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
