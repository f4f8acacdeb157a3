"""Routing by model: one `/v1` for every model. The rendered gateway, run by real nginx in front of
two real llama-server pools (a chat and a code model), reached with the real openai client by
model name; `/v1/models` lists both; an unknown model gets the OpenAI error."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from bundle.designs import cpu_llamacpp_design
from bundle.test_bundle_gateway import KEYS, Gateway, _ports
from garrison.design import Design
from garrison.render import render_bundle, write_bundle
from garrison.testing.ci import require_tool
from garrison.testing.servers import LlamaServer
from garrison.validate.gateway_sandbox import prepare_gateway

pytestmark = pytest.mark.slow


def two_pool_design() -> Design:
    """A chat and a code deployment, each its own llama.cpp pool, behind one gateway."""
    d = cpu_llamacpp_design()
    # a busy design: the per-key rate limit is not what these tests look at
    base = d.deployments[0].model_copy(update={"requests_per_minute": 6000.0, "concurrent_requests": 64})
    chat = base.model_copy(
        update={"use_case": "chat", "kind": "chat", "model_name": "tiny-chat", "replicas": 1}
    )
    code = base.model_copy(
        update={"use_case": "code", "kind": "code", "model_name": "tiny-code", "replicas": 1, "fim": True}
    )
    return d.model_copy(update={"deployments": (chat, code)})


@pytest.fixture
def two_pools(
    llama_server: Callable[..., LlamaServer], tmp_path: Path, free_port: Callable[[], int]
) -> Iterator[tuple[Gateway, LlamaServer, LlamaServer]]:
    require_tool("nginx")
    chat, code = llama_server(alias="tiny-chat", parallel=2), llama_server(alias="tiny-code", parallel=2)
    bundle = write_bundle(render_bundle(two_pool_design()), tmp_path / "bundle")
    ports = _ports(free_port)
    conf = prepare_gateway(
        bundle / "gateway",
        tmp_path / "gw",
        keys=KEYS,
        servers={"up_chat": [f"127.0.0.1:{chat.port}"], "up_code": [f"127.0.0.1:{code.port}"]},
        ports=ports,
    )
    gw = Gateway(conf, ports).start()
    yield gw, chat, code
    gw.stop()


def test_openai_client_reaches_each_model_by_name_through_one_v1(
    two_pools: tuple[Gateway, LlamaServer, LlamaServer],
) -> None:
    gw, chat, code = two_pools
    client = gw.client(next(iter(KEYS)), "/v1")

    # /v1/models lists every served model, and each one by id
    assert [m.id for m in client.models.list().data] == ["tiny-chat", "tiny-code"]
    assert client.models.retrieve("tiny-code").id == "tiny-code"

    # each model by name, chat and completions, plain and streamed
    r = client.chat.completions.create(
        model="tiny-chat", messages=[{"role": "user", "content": "hello"}], max_tokens=4
    )
    assert r.choices[0].finish_reason == "length"
    c = client.completions.create(model="tiny-code", prompt="def f(", max_tokens=4)
    assert c.choices[0].finish_reason == "length"
    streamed = [
        ch
        for ch in client.chat.completions.create(
            model="tiny-code", messages=[{"role": "user", "content": "x"}], max_tokens=6, stream=True
        )
        if ch.choices and ch.choices[0].delta.content
    ]
    assert streamed
    # a message that quotes another model's name inside its text is still routed by its own model
    tricky = json.dumps({"model": "tiny-code"})
    client.chat.completions.create(
        model="tiny-chat", messages=[{"role": "user", "content": tricky}], max_tokens=2
    )

    # an unknown or missing model: the OpenAI error, never another model's answer
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=2
        )
    assert e.value.code == "model_not_found"
    status, _, body = gw.request(
        "/v1/chat/completions", next(iter(KEYS)), "POST", {"messages": [{"role": "user", "content": "hi"}]}
    )
    assert status == 404 and json.loads(body)["error"]["code"] == "model_not_found"

    # the audit log says which pool answered each request: the one serving the model asked for
    by_model: dict[str, set[str]] = {}
    for entry in gw.audit():
        if entry["path"].startswith("/v1/") and entry["status"] == 200 and entry["upstream"]:
            by_model.setdefault(entry["model"], set()).add(entry["upstream"].rsplit(":", 1)[-1])
    assert by_model["tiny-chat"] == {str(chat.port)}
    assert by_model["tiny-code"] == {str(code.port)}


def test_use_case_paths_still_reach_their_pool(two_pools: tuple[Gateway, LlamaServer, LlamaServer]) -> None:
    gw, _chat, code = two_pools
    key = next(iter(KEYS))
    out = gw.client(key, "/code/v1").completions.create(model="tiny-code", prompt="x", max_tokens=2)
    assert out.choices
    entries: list[dict[str, Any]] = [e for e in gw.audit() if e["path"].startswith("/code/v1/")]
    assert entries and all(e["upstream"].endswith(f":{code.port}") for e in entries)
    assert all(e["model"] == "tiny-code" for e in entries)
