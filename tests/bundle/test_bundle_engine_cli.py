"""The rendered llama.cpp command line, run by the real llama-server: every flag is accepted, and
the server comes up with the slots and per-slot context the design asked for (-c is shared by the
-np slots, so Garrison renders -c = max_model_len x max_num_seqs). Only deployment addresses are
changed for the test: the model file (a tiny generated GGUF), the host and the port."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bundle.designs import cpu_llamacpp_design
from garrison import engines
from garrison.testing.tiny_gguf import write_tiny_gguf

pytestmark = [pytest.mark.slow, pytest.mark.needs_llama]


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


def _local(args: list[str], model: Path, port: int) -> list[str]:
    """The rendered arguments with the model path, host and port swapped for local ones."""
    out = list(args)
    for flag, value in (("-m", str(model)), ("--host", "127.0.0.1"), ("--port", str(port))):
        assert out.count(flag) == 1, flag
        out[out.index(flag) + 1] = value
    return out


@pytest.mark.parametrize("kv_dtype", ["f16", "q8_0", "q4_0"])
def test_rendered_llamacpp_command_runs_with_the_design_settings(
    kv_dtype: str, llama_server_bin: Path, tmp_path: Path, free_port: Callable[[], int]
) -> None:
    # head dim 32 (quantised KV blocks hold 32 values; the default tiny model's 16 would not do) and a
    # trained context four times the design's max_model_len, so that llama-server's cap of a slot's
    # context at the trained length cannot hide a -c that gives each slot more than max_model_len
    design = cpu_llamacpp_design()
    model = write_tiny_gguf(
        tmp_path / "tiny.gguf",
        hidden=128,
        heads=4,
        kv_heads=2,
        ff=256,
        ctx=4 * design.deployments[0].max_model_len,
    )
    # a Qwen3 model id: the rendered line carries its parser flags (--jinja --reasoning-format deepseek)
    dep = design.deployments[0].model_copy(update={"kv_dtype": kv_dtype, "model_id": "qwen3-8b"})
    args = engines.command_args(dep)
    assert args[args.index("--reasoning-format") + 1] == "deepseek" and "--jinja" in args
    assert engines.launch_of(dep.engine).entrypoint == ("/app/llama-server",)
    port = free_port()
    log = tmp_path / "server.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [str(llama_server_bin), *_local(args, model, port), "-t", "1"],
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            assert proc.poll() is None, f"llama-server refused the rendered flags:\n{log.read_text()[-2000:]}"
            try:
                if _get(url + "/health").get("status") == "ok":
                    break
            except OSError:
                pass
            time.sleep(0.1)
        props = _get(url + "/props")
        assert props["total_slots"] == dep.max_num_seqs
        assert props["default_generation_settings"]["n_ctx"] == dep.max_model_len
        assert [m["id"] for m in _get(url + "/v1/models")["data"]] == [dep.model_name]
        body = json.dumps({"model": dep.model_name, "prompt": "hello", "max_tokens": 4}).encode()
        req = urllib.request.Request(
            url + "/v1/completions", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            assert json.load(r)["usage"]["completion_tokens"] == 4
        metrics = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
        assert "llamacpp:requests_processing" in metrics
    finally:
        proc.terminate()
        proc.wait(10)
