"""An example on every option of every command, and one or two whole command lines per command.

Kept as data beside the commands so `--help` shows them uniformly: `apply_examples(app)` appends
"Example: VALUE" to each value option's and argument's help, fills in help text where
an option has none, and adds an "Examples" epilog to each command. An option whose own help already
says "e.g. VALUE" needs no entry here. tests/core/test_cli_help.py checks
that every option has help, every value option and argument an example, and that every example converts
with the option's type.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import typer
from typer.models import ArgumentInfo, CommandInfo, OptionInfo

# (command path, parameter name) -> example value. Arguments show the value alone.
VALUES: dict[tuple[str, str], str] = {
    ("estimate", "model"): "qwen3-32b",
    ("estimate", "gpu"): "h100-sxm",
    ("estimate", "cpu"): "epyc-9654",
    ("estimate", "gpus"): "2",
    ("estimate", "tp"): "2",
    ("estimate", "pp"): "1",
    ("estimate", "quant"): "fp8",
    ("estimate", "kv_dtype"): "fp8",
    ("estimate", "engine"): "sglang",
    ("estimate", "gpu_memory_utilization"): "0.9",
    ("estimate", "mem_fraction_static"): "0.85",
    ("estimate", "max_model_len"): "32768",
    ("estimate", "max_num_seqs"): "256",
    ("estimate", "max_num_batched_tokens"): "8192",
    ("estimate", "block_size"): "16",
    ("estimate", "input_len"): "1000",
    ("estimate", "output_len"): "300",
    ("estimate", "concurrency"): "32",
    ("estimate", "memory_gib"): "96",
    ("estimate", "bandwidth_gbs"): "4000",
    ("estimate", "tflops"): "989",
    ("estimate", "calibration"): "h200-lab",
    ("estimate", "sockets"): "2",
    ("estimate", "numa"): "distribute",
    ("estimate", "cores"): "32",
    ("estimate", "base_ghz"): "2.8",
    ("estimate", "isa"): "avx512",
    ("estimate", "split_mode"): "row",
    ("estimate", "p2p"): "no",
    ("estimate", "engine_version"): "0.6.3",
    ("plan", "requirements"): "examples/code-team-10.yaml",
    ("plan", "out"): "bundle/",
    ("plan", "calibration"): "h200-lab",
    ("render", "design"): "bundle/design.json",
    ("render", "out"): "bundle/",
    ("render", "runs"): "run-3,run-4",
    ("render", "db"): "sqlite:////srv/garrison/garrison.db",
    ("validate", "bundle"): "bundle/",
    ("keys", "name"): "alice",
    ("keys", "file"): "/etc/garrison/api_keys.map",
    ("keys", "revoke"): "alice",
    ("keys", "env_file"): "/etc/garrison/compose.env",
    ("keys", "group"): "101",
    ("bench", "url"): "https://llm.acme.internal:8443",
    ("bench", "model"): "qwen3-32b",
    ("bench", "api_key"): "sk-garrison-...",
    ("bench", "endpoint"): "completions",
    ("bench", "concurrency"): "1,4,16",
    ("bench", "rate"): "0.5,1,2",
    ("bench", "num_requests"): "200",
    ("bench", "duration"): "60",
    ("bench", "input_len"): "512:2048",
    ("bench", "output_len"): "256",
    ("bench", "dataset"): "prompts.jsonl",
    ("bench", "tokenizer"): "server",
    ("bench", "slo_ttft_ms"): "2000",
    ("bench", "slo_itl_ms"): "50",
    ("bench", "design"): "bundle/design.json",
    ("bench", "out"): "bench-results/",
    ("bench", "timeout"): "120",
    ("bench", "ca"): "certs/ca.pem",
    ("bench", "db"): "sqlite:////srv/garrison/garrison.db",
    ("bench", "arrival"): "gamma",
    ("bench", "burstiness"): "0.5",
    ("bench", "max_concurrency"): "64",
    ("bench", "trace"): "gateway-trace.csv",
    ("bench", "warmup"): "10s",
    ("bench", "cooldown"): "20",
    ("bench", "seed"): "7",
    ("bench", "prefix_len"): "512",
    ("bench", "prefix_share"): "0.3",
    ("bench", "slo_attainment"): "0.99",
    ("bench", "percentiles"): "50,90,99,99.9",
    ("bench", "max_error_rate"): "0.05",
    ("bench", "metrics_url"): "https://llm.acme.internal:8443/metrics",
    ("bench", "export_requests"): "requests.jsonl",
    ("bench", "export_csv"): "steps.csv",
    ("bench", "workers"): "2",
    ("verify", "url"): "https://llm.acme.internal:8443",
    ("verify", "api_key"): "sk-garrison-...",
    ("verify", "design"): "bundle/design.json",
    ("verify", "egress_probe"): "1.1.1.1:443",
    ("verify", "ca"): "certs/ca.pem",
    ("verify", "burst"): "40",
    ("verify", "db"): "sqlite:////srv/garrison/garrison.db",
    ("simulate", "model_or_design"): "bundle/design.json",
    ("simulate", "rate"): "0.5,1,2",
    ("simulate", "num_requests"): "1000",
    ("simulate", "input_len"): "lognormal:1000:0.6",
    ("simulate", "output_len"): "300",
    ("simulate", "seed"): "7",
    ("simulate", "replicas"): "2",
    ("simulate", "burst"): "4",
    ("simulate", "prefix_hit_rate"): "0.3",
    ("simulate", "trace"): "gateway-trace.csv",
    ("simulate", "use_case"): "chat",
    ("simulate", "slo_ttft_ms"): "2000",
    ("simulate", "slo_itl_ms"): "50",
    ("simulate", "gpu"): "h100-sxm",
    ("simulate", "cpu"): "epyc-9654",
    ("simulate", "gpus"): "2",
    ("simulate", "tp"): "2",
    ("simulate", "quant"): "fp8",
    ("simulate", "kv_dtype"): "fp8",
    ("simulate", "engine"): "sglang",
    ("simulate", "max_model_len"): "32768",
    ("simulate", "max_num_seqs"): "256",
    ("simulate", "max_num_batched_tokens"): "8192",
    ("simulate", "calibration"): "h200-lab",
    ("calibrate", "name"): "h200-lab",
    ("calibrate", "holdout"): "0.25",
    ("calibrate", "seed"): "7",
    ("tco", "design_file"): "bundle/design.json",
    ("tco", "years"): "2",
    ("tco", "against"): "openai/gpt-6-sol",
    ("tco", "today"): "2026-12-01",
    ("handoff", "design"): "design-3",
    ("handoff", "to"): "program-manager",
    ("handoff", "out"): "handoffs/",
    ("history list", "db"): "sqlite:////srv/garrison/garrison.db",
    ("history show", "item"): "design-3",
    ("history show", "db"): "sqlite:////srv/garrison/garrison.db",
    ("history compare", "run"): "run-4",
    ("history compare", "design"): "design-3",
    ("history compare", "db"): "sqlite:////srv/garrison/garrison.db",
    ("airgap pack", "source"): "bundle/design.json",
    ("airgap pack", "out"): "/media/usb/pack",
    ("airgap pack", "model_source"): "/srv/models",
    ("airgap pack", "volume_size"): "4G",
    ("airgap pack", "sign"): "keys/site.key",
    ("airgap pack", "image_dir"): "images/",
    ("airgap pack", "python_version"): "3.11",
    ("airgap pack", "platform"): "manylinux2014_x86_64",
    ("airgap verify", "pack_dir"): "/media/usb/pack",
    ("airgap verify", "trust"): "keys/site.pub",
    ("airgap install", "pack_dir"): "/media/usb/pack",
    ("airgap install", "models_dir"): "/srv/models",
    ("airgap install", "venv"): "/srv/garrison-venv",
    ("airgap install", "bundle_dir"): "/srv/garrison/bundle",
    ("airgap install", "trust"): "keys/site.pub",
    ("airgap keygen", "out"): "keys/site",
    ("airgap lint", "bundle"): "bundle/",
}

# Help for options registered without any (the text the option's owner would write).
HELP: dict[tuple[str, str], str] = {
    (
        "estimate",
        "gpu_memory_utilization",
    ): "vLLM/TGI share of GPU memory the engine may take (default: the engine's).",
    ("estimate", "mem_fraction_static"): "SGLang's static memory fraction (default: SGLang's).",
    ("estimate", "max_model_len"): "Longest context one sequence may use (default: the model's).",
    ("estimate", "max_num_seqs"): "Sequences the engine schedules at once (default: the engine's).",
    (
        "estimate",
        "max_num_batched_tokens",
    ): "Tokens per engine step, prefill included (default: the engine's).",
    ("estimate", "block_size"): "KV cache block size in tokens (default: the engine's).",
    ("estimate", "input_len"): "Prompt tokens per request the speed numbers assume.",
    ("estimate", "output_len"): "Output tokens per request the speed numbers assume.",
}

# Whole command lines, shown under "Examples" in each command's --help.
COMMANDS: dict[str, tuple[str, ...]] = {
    "estimate": ("garrison estimate qwen3-32b --gpu h100-sxm --gpus 2 --quant fp8 --max-model-len 32768",),
    "plan": (
        "garrison plan examples/code-team-10.yaml --out bundle/",
        "garrison plan analyst-handoff.yaml --json > design.json",
    ),
    "render": ("garrison render bundle/design.json --out bundle/ --force",),
    "validate": ("garrison validate bundle/",),
    "keys": ("garrison keys --name alice --file /etc/garrison/api_keys.map",),
    "bench": (
        "garrison bench https://llm.acme.internal:8443 --design bundle/design.json --concurrency 1,4,16",
    ),
    "verify": ("garrison verify https://llm.acme.internal:8443 --api-key $KEY --design bundle/design.json",),
    "simulate": ("garrison simulate bundle/design.json --rate 0.5,1,2 --slo-ttft-ms 2000",),
    "calibrate": ("garrison calibrate bench-results/results.json --name h200-lab",),
    "tco": ("garrison tco bundle/design.json --years 2 --against openai/gpt-6-sol",),
    "handoff": ("garrison handoff design-3 --out handoffs/", "garrison handoff bundle/ --to program-manager"),
    "mcp": ("garrison mcp   (register this command with an MCP client)",),
    "history list": ("garrison history list --json",),
    "history show": ("garrison history show design-3",),
    "history compare": ("garrison history compare run-4 design-3",),
    "airgap pack": ("garrison airgap pack bundle/design.json --out /media/usb/pack --volume-size 4G",),
    "airgap verify": ("garrison airgap verify /media/usb/pack --trust keys/site.pub",),
    "airgap install": (
        "garrison airgap install /media/usb/pack --models-dir /srv/models --trust keys/site.pub",
    ),
    "airgap keygen": ("garrison airgap keygen --out keys/site",),
    "airgap lint": ("garrison airgap lint bundle/",),
}


def _commands(app: typer.Typer, prefix: str = "") -> Iterator[tuple[str, CommandInfo]]:
    for info in app.registered_commands:
        if info.callback is None:
            continue
        name = info.name or info.callback.__name__.replace("_", "-")
        yield f"{prefix}{name}", info
    for group in app.registered_groups:
        if group.typer_instance is not None and group.name:
            yield from _commands(group.typer_instance, f"{prefix}{group.name} ")


def _example(path: str, pname: str, info: Any) -> str | None:
    """The value alone: the option's name is printed beside its help, and leaving it out keeps click
    from breaking the example at a hyphen ("--max-" / "model-len") when it wraps. A flag needs none:
    its example is its own spelling, printed beside it."""
    return VALUES.get((path, pname))


def apply_examples(app: typer.Typer) -> None:
    """Append examples (and missing help) to every registered command's options, in place."""
    for path, info in _commands(app):
        assert info.callback is not None
        for pname, param in inspect.signature(info.callback).parameters.items():
            opt = param.default
            if not isinstance(opt, (OptionInfo, ArgumentInfo)):
                continue
            if not (opt.help or "").strip() and (path, pname) in HELP:
                opt.help = HELP[(path, pname)]
            ex = _example(path, pname, opt)
            if ex and "Example:" not in (opt.help or ""):
                opt.help = f"{(opt.help or '').rstrip()} Example: {ex}".strip()
        lines = COMMANDS.get(path)
        if lines and not info.epilog:
            # click rewraps epilog paragraphs; \b keeps each command line on its own line
            info.epilog = "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)
