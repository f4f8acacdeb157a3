"""llama.cpp on CPUs: prompt speed from cores x clock x a measured kernel rate, decode from DRAM
bandwidth capped by what the cores can pull, and sockets that only help when NUMA is handled.

- Prefill FLOP/s = cores x base GHz x ops per cycle of llama.cpp's kernels on the CPU's widest
  matrix path (data/cpu_kernels.yaml, measured with llama-bench) x `cpu_compute`. AMX serves only the
  weight types llama.cpp repacks for it; other GGUF types take the AVX-512 path.
- Decode bytes/s per socket = min(channels x MT/s x 8 B x `cpu_bw`, cores x `cpu_core_bw_gbps`):
  a few cores cannot saturate twelve DDR5 channels (an EPYC 9124's 16 cores are not a 9554's 64).
- Sockets: llama.cpp's threads read weights wherever the OS placed them. Without NUMA placement a
  second socket adds no decode bandwidth (cross-socket traffic even halved decode on a dual Xeon 5218:
  mozilla-ai/llamafile #765); with `--numa distribute` and the model cached per node, a dual EPYC
  9175F went from 2.4 to 4.31 tokens/s (ggml-org/llama.cpp #11744), i.e. the second socket added
  ~65 % (`cpu_numa_gain`). Prompt processing is compute-bound and uses every core either way.
"""

from __future__ import annotations

import functools
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field

from garrison.catalogue.schema import CPU
from garrison.sizing.efficiency import Efficiency


class CpuKernel(BaseModel):
    """Measured llama.cpp prompt-processing rate per core for one matrix path."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    isa: str
    ops_per_cycle: float = Field(gt=0)
    source: str = Field(min_length=3)
    quant_types: tuple[str, ...] | None = None  # weight formats the path serves (None: every format)


@functools.lru_cache(maxsize=1)
def cpu_kernels() -> dict[str, CpuKernel]:
    """The kernel table (data/cpu_kernels.yaml), keyed by id."""
    text = resources.files("garrison.data").joinpath("cpu_kernels.yaml").read_text(encoding="utf-8")
    rows = yaml.safe_load(text)["kernels"]
    return {r["id"]: CpuKernel.model_validate(r) for r in rows}


def kernel_for(cpu: CPU, quant: str | None = None) -> CpuKernel:
    """The matrix path llama.cpp uses on this CPU for weights in `quant` (a format id; None: the
    widest path): AMX, Zen 5 AVX-512, AVX-512, AVX-VNNI, AVX2 or NEON."""
    isa = set(cpu.isa)
    k = cpu_kernels()
    amx = k["amx"]
    if "amx_int8" in isa and (quant is None or amx.quant_types is None or quant in amx.quant_types):
        return amx
    if "avx512" in isa or "avx512_vnni" in isa:
        # Zen 5 (EPYC 9005, Ryzen 9000, Threadripper 9000) runs 512-bit operations full width
        zen5 = cpu.vendor == "amd" and "zen 5" in cpu.source.lower()
        return k["avx512_zen5"] if zen5 else k["avx512"]
    if "avx_vnni" in isa:
        return k["avx_vnni"]
    if "avx2" in isa:
        return k["avx2"]
    return k["neon"]


def cpu_prefill_flops(cpu: CPU, sockets: int, eff: Efficiency, quant: str | None = None) -> float:
    """Achievable prompt-processing FLOP/s of llama.cpp on `sockets` of this CPU (weights in `quant`)."""
    rate = kernel_for(cpu, quant).ops_per_cycle
    return cpu.cores * sockets * cpu.base_ghz * 1e9 * rate * eff.cpu_compute


def cpu_decode_bandwidth(cpu: CPU, sockets: int, eff: Efficiency, numa_distribute: bool = False) -> float:
    """Achievable bytes/s llama.cpp streams weights at while decoding (module docstring)."""
    per_socket = min(cpu.mem_bw_gbps * 1e9 * eff.cpu_bw, cpu.cores * eff.cpu_core_bw_gbps * 1e9)
    gain = eff.cpu_numa_gain if numa_distribute else 0.0
    return per_socket * (1.0 + gain * (max(1, sockets) - 1))


__all__ = ["CpuKernel", "cpu_decode_bandwidth", "cpu_kernels", "cpu_prefill_flops", "kernel_for"]
