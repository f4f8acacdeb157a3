"""The shared tiny GGUF generator: readable by gguf, deterministic, loadable by real llama-server."""

from __future__ import annotations

import glob
import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import gguf
import pytest

from garrison.testing.tiny_gguf import builtin_vocab, write_tiny_gguf


def test_vocab_has_bytes_controls_and_pieces() -> None:
    toks, scores, types = builtin_vocab()
    assert len(toks) == len(scores) == len(types) == 463
    assert toks[:3] == ["<unk>", "<s>", "</s>"]
    assert "<0x41>" in toks and "\u2581gateway" in toks


def test_written_file_reads_back_with_shape(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "t.gguf", layers=3, hidden=32, heads=4, kv_heads=1, ff=96, ctx=512)
    reader = gguf.GGUFReader(path)
    assert int(reader.fields["llama.block_count"].parts[-1][0]) == 3
    assert int(reader.fields["llama.attention.head_count_kv"].parts[-1][0]) == 1
    assert int(reader.fields["llama.context_length"].parts[-1][0]) == 512
    names = {t.name for t in reader.tensors}
    assert "blk.2.ffn_down.weight" in names and "output.weight" in names
    assert len(reader.tensors) == 3 + 3 * 9  # token_embd, output_norm, output + 9 per layer


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    a = write_tiny_gguf(tmp_path / "a.gguf").read_bytes()
    b = write_tiny_gguf(tmp_path / "b.gguf").read_bytes()
    c = write_tiny_gguf(tmp_path / "c.gguf", seed=1).read_bytes()
    assert a == b
    assert a != c


def test_rejects_indivisible_heads(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_tiny_gguf(tmp_path / "x.gguf", hidden=64, heads=3)


def _llama_server() -> str | None:
    found = sorted(glob.glob(os.path.expanduser("~/.cache/garrison/llama-server/*/llama-server")))
    return found[-1] if found else None


@pytest.mark.slow
@pytest.mark.needs_llama
def test_real_llama_server_answers_printable_text(tmp_path: Path) -> None:
    binary = _llama_server()
    if binary is None:
        pytest.skip("llama-server not built yet (scripts/ensure-llama-server.sh)")
    model = write_tiny_gguf(tmp_path / "tiny.gguf")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [binary, "-m", str(model), "--alias", "tiny", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["-c", "2048", "-np", "1", "-t", "1", "--no-webui", "--offline"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                with urllib.request.urlopen(base + "/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        body = json.dumps({"prompt": "The gateway", "max_tokens": 8, "temperature": 0}).encode()
        req = urllib.request.Request(
            base + "/v1/completions", body, {"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            out = json.load(r)
        text = out["choices"][0]["text"]
        assert out["usage"]["completion_tokens"] == 8
        assert out["choices"][0]["finish_reason"] == "length"
        assert text and text.isprintable()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
