"""The shared test infrastructure works with real components: llama-server serving the tiny model
to the official openai client (plain and streaming), its Prometheus /metrics, several replicas,
a network namespace with no way out, a self-signed TLS cert that a real TLS handshake accepts."""

from __future__ import annotations

import os
import socket
import ssl
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gguf
import openai
import pytest

from garrison.testing.net import TlsCert
from garrison.testing.servers import LlamaServer, ServerStartError
from garrison.testing.tiny_gguf import write_tiny_gguf

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get(url: str) -> str:
    with _DIRECT.open(url, timeout=10) as resp:
        return str(resp.read().decode())


def _metrics(base_url: str) -> dict[str, float]:
    """`llamacpp:*` samples from the Prometheus text exposition (names without labels)."""
    out: dict[str, float] = {}
    for line in _get(base_url + "/metrics").splitlines():
        if line.startswith("llamacpp:"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def _client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url + "/v1", api_key="none", max_retries=0, timeout=60)


def test_garrison_home_is_isolated_per_test(garrison_home: Path) -> None:
    assert os.environ["GARRISON_HOME"] == str(garrison_home)
    assert garrison_home.is_dir() and not any(garrison_home.iterdir())
    assert Path.home() not in garrison_home.parents


def test_tiny_gguf_is_deterministic_and_readable(tmp_path: Path) -> None:
    a = write_tiny_gguf(tmp_path / "a.gguf", seed=1)
    b = write_tiny_gguf(tmp_path / "b.gguf", seed=1)
    c = write_tiny_gguf(tmp_path / "c.gguf", seed=2)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    reader = gguf.GGUFReader(str(a))
    assert reader.fields["llama.block_count"].parts[-1][0] == 2
    assert reader.fields["llama.attention.head_count_kv"].parts[-1][0] == 2
    assert a.stat().st_size < 1_000_000


@pytest.mark.slow
@pytest.mark.needs_llama
def test_llama_server_serves_openai_chat_stream_and_metrics(
    llama_server: Callable[..., LlamaServer],
) -> None:
    srv = llama_server(parallel=2)
    client = _client(srv.base_url)

    assert [m.id for m in client.models.list().data] == ["tiny"]

    messages: Any = [{"role": "user", "content": "Hello ünïcødé"}]
    first = client.chat.completions.create(model="tiny", messages=messages, max_tokens=16, temperature=0)
    again = client.chat.completions.create(model="tiny", messages=messages, max_tokens=16, temperature=0)
    assert first.usage is not None and first.usage.completion_tokens == 16
    assert first.choices[0].finish_reason == "length"  # the tiny model never emits EOS
    assert first.choices[0].message.content
    assert first.choices[0].message.content == again.choices[0].message.content  # greedy = deterministic

    pieces: list[str] = []
    finish = None
    stream = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "Stream please"}], max_tokens=24, stream=True
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        if chunk.choices and chunk.choices[0].finish_reason:
            finish = chunk.choices[0].finish_reason
    assert len(pieces) >= 12, pieces  # one SSE event per token or so, not one blob
    assert finish == "length"

    metrics = _metrics(srv.base_url)
    assert metrics["llamacpp:tokens_predicted_total"] >= 16 + 16 + 24
    assert "llamacpp:prompt_tokens_total" in metrics
    assert "llamacpp:requests_processing" in metrics


@pytest.mark.slow
@pytest.mark.needs_llama
def test_several_replicas_run_side_by_side(llama_server: Callable[..., LlamaServer]) -> None:
    replicas = [llama_server(), llama_server()]
    assert len({r.port for r in replicas}) == 2
    for r in replicas:
        out = _client(r.base_url).completions.create(model="tiny", prompt="The gateway", max_tokens=4)
        assert out.usage is not None and out.usage.completion_tokens == 4
    replicas[0].stop()
    assert _get(replicas[1].base_url + "/health").strip() == '{"status":"ok"}'


@pytest.mark.slow
@pytest.mark.needs_llama
def test_api_key_protects_v1_but_not_health(llama_server: Callable[..., LlamaServer]) -> None:
    srv = llama_server(api_key="sk-infra-test")
    assert _get(srv.base_url + "/health").strip() == '{"status":"ok"}'
    with pytest.raises(openai.AuthenticationError):
        _client(srv.base_url).models.list()
    keyed = openai.OpenAI(base_url=srv.base_url + "/v1", api_key="sk-infra-test", max_retries=0)
    assert [m.id for m in keyed.models.list().data] == ["tiny"]


@pytest.mark.slow
@pytest.mark.needs_llama
def test_server_start_failure_reports_the_log(llama_server_bin: Path, tmp_path: Path) -> None:
    bad = tmp_path / "not-a-model.gguf"
    bad.write_bytes(b"this is not gguf")
    with pytest.raises(ServerStartError, match="exited"):
        LlamaServer(llama_server_bin, bad, log_path=tmp_path / "log.txt", startup_timeout_s=20).start()


@pytest.mark.slow
@pytest.mark.needs_llama
def test_netns_server_answers_inside_and_nothing_gets_out(
    netns: Callable[..., Any], llama_server_bin: Path, tiny_gguf: Path
) -> None:
    script = f"""
"{llama_server_bin}" -m "{tiny_gguf}" --host 127.0.0.1 --port 18080 -t 1 -c 512 --no-webui --offline \
    >/dev/null 2>&1 &
P=$!
for i in $(seq 200); do curl -sf http://127.0.0.1:18080/health >/dev/null && break; sleep 0.05; done
curl -sf http://127.0.0.1:18080/health; echo
curl -s -m 3 -o /dev/null http://1.1.1.1/ ; echo "egress-curl-rc=$?"
kill $P; wait $P 2>/dev/null
"""
    result = netns(script)
    assert '{"status":"ok"}' in result.stdout, result
    # curl exit 7: could not connect (ENETUNREACH in an empty namespace), not a timeout (28)
    assert "egress-curl-rc=7" in result.stdout, result


def test_free_port_can_be_bound(free_port: Callable[[], int]) -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_tls_cert_passes_a_real_handshake(tls_cert: TlsCert) -> None:
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tls_cert.cert, tls_cert.key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve(connections: int) -> None:
        for _ in range(connections):
            conn, _ = listener.accept()
            try:
                with server_ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"ok")
            except (ssl.SSLError, OSError):
                pass  # the untrusting client aborts the handshake

    thread = threading.Thread(target=serve, args=(3,), daemon=True)
    thread.start()
    trusting = ssl.create_default_context(cafile=str(tls_cert.cert))
    for host in ("localhost", "127.0.0.1"):  # both names are in the certificate's SAN
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            trusting.wrap_socket(raw, server_hostname=host) as tls,
        ):
            assert tls.recv(2) == b"ok"
    untrusting = ssl.create_default_context()  # system CAs only: a self-signed cert must fail
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        untrusting.wrap_socket(raw, server_hostname="localhost")
    thread.join(5)
    listener.close()
