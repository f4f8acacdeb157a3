"""Bill of materials: GPUs -> servers with CPU, RAM, NVMe, network, PSU, power, cooling, rack units."""

from __future__ import annotations

import math
from dataclasses import dataclass

from garrison.catalogue.schema import CPU, GPU
from garrison.design import Range, Server
from garrison.planner.tables import Chassis, ServerParts
from garrison.sizing.units import W_TO_BTU_H


def chassis_for(gpu: GPU | None, parts: ServerParts) -> str:
    """Which chassis a GPU goes in: SXM/OAM boards, data-centre PCIe, workstation cards, Apple, CPU."""
    if gpu is None:
        return "cpu2u"
    if gpu.segment == "apple":
        return "apple"
    if (
        gpu.segment == "datacenter"
        and gpu.interconnect.kind in ("nvlink", "infinity-fabric")
        and gpu.pcie_slots == 0
    ):
        return "hgx8"
    if gpu.segment in ("datacenter", "workstation"):  # passively cooled / blower cards: 8 per 4U
        return "pcie8"
    return "workstation4"


def gpus_per_chassis(gpu: GPU | None, parts: ServerParts, owned_per_server: int | None = None) -> int:
    """GPUs one server of that chassis takes (triple-slot consumer cards: 2 per 4U tower when bought).

    A server the organisation already has holds what it holds (`owned_per_server`: an owned
    4x RTX 4090 workstation is four cards in one box, whatever a new tower would take).
    """
    if gpu is None:
        return 0
    if owned_per_server is not None:
        return owned_per_server
    ch = parts.chassis[chassis_for(gpu, parts)]
    if gpu.segment == "consumer" and gpu.pcie_slots >= 3:  # triple-slot open-air coolers
        return min(ch.gpus, 2)
    return ch.gpus


def fully_populated(gpu: GPU | None, parts: ServerParts) -> bool:
    """True for boards that ship with every GPU socket filled: HGX/OAM baseboards (8 SXM/OAM GPUs).

    NVIDIA sells HGX H100/H200/B200 as 8-GPU baseboards to the server makers (HGX 4-GPU boards exist
    for Hopper but not in the catalogue's chassis table); a design that needs 4 such GPUs buys 8.
    """
    return gpu is not None and chassis_for(gpu, parts) == "hgx8"


@dataclass(frozen=True)
class ServerPlan:
    """Servers for one deployment's replicas."""

    server: Server
    capex_low: float
    capex_high: float
    memory_channels: int = 0  # DIMM channels of the server's CPUs together (0: not a rack server)
    ram_need_gib: float = 0.0  # what the deployment wants before the channels are filled
    ram_floor_gib: float = 0.0  # what it cannot do without (the rest of the need is headroom)
    dimm_module: str = "RDIMM"


# DDR5 RDIMM capacities in volume production, GiB (JEDEC DDR5 densities 16-32 Gb, 1-2 ranks, and
# the non-binary 24 Gb dies behind 48 and 96 GiB modules)
DIMM_SIZES_GIB = (16, 32, 48, 64, 96, 128)


def populate_ram(gib: float, channels: int) -> tuple[int, int, int]:
    """(total GiB, DIMMs, GiB per DIMM) for at least `gib` (min 64) with every memory channel filled.

    A server reaches its memory bandwidth only with a DIMM in every channel, and the speed model's
    CPU bandwidth (sizing.cpu) assumes exactly that; a half-filled board runs at half the bandwidth.
    One DIMM per channel of the smallest size that covers the need; past 128 GiB DIMMs, two per
    channel (the DDR5 speed then drops a grade, e.g. 4800 -> 4400 MT/s). `channels` 0: no channel
    rule (round up to 32 GiB steps).
    """
    need = max(64.0, gib)
    if channels <= 0:
        total = int(math.ceil(need / 32) * 32)
        return total, 0, 0
    for per_channel in (1, 2):
        for size in DIMM_SIZES_GIB:
            if size * channels * per_channel >= need:
                return size * channels * per_channel, channels * per_channel, size
    dimms = 2 * channels
    size = int(math.ceil(need / dimms / 64) * 64)
    return size * dimms, dimms, size


def _nvme_tb(needed_tb: float, parts: ServerParts) -> float:
    for size in parts.nvme_sizes_tb:
        if size >= needed_tb:
            return size
    n = math.ceil(needed_tb / parts.nvme_sizes_tb[-1])
    return n * parts.nvme_sizes_tb[-1]


def build_servers(
    *,
    name: str,
    gpu: GPU | None,
    cpu: CPU,
    cpu_sockets: int,
    gpus_per_replica: int,
    replicas: int,
    high_availability: bool,
    model_bytes: float,
    multi_node: bool,
    parts: ServerParts,
    hosts: tuple[str, ...],
    host_ram_gib: float = 0.0,
    owned: bool = False,
    per_server: int | None = None,
) -> ServerPlan:
    """Servers for `replicas` x `gpus_per_replica` GPUs (or CPU hosts), with power and cooling.

    - RAM: at least 2x the GPU memory of the server (engines stage weights through pinned host
      memory; vLLM's CPU swap / KV offload use it too), and for CPU inference the model + KV.
    - NVMe: three model versions (current, previous for rollback, next for blue-green) + 1 TB for
      OS, images and logs.
    - Power: GPUs at TDP + CPUs at TDP + chassis base + NICs = maximum draw. PSU capacity is max x
      margin (PSUs are most efficient and live longest below ~80% load), delivered N+1.
    - Cooling: every watt becomes heat: BTU/h = W x 3.412.
    """
    ch_name = chassis_for(gpu, parts)
    ch: Chassis = parts.chassis[ch_name]
    if gpu is None:
        servers = replicas
        gpus_in_server = 0
    else:
        per = gpus_per_chassis(gpu, parts, per_server)
        if multi_node:
            servers = replicas * math.ceil(gpus_per_replica / per)
            gpus_in_server = per
        else:
            replicas_per_server = max(1, per // gpus_per_replica)
            servers = math.ceil(replicas / replicas_per_server)
            if high_availability and replicas >= 2 and not owned:
                servers = max(servers, 2)
            gpus_in_server = min(per, math.ceil(replicas / servers) * gpus_per_replica)
            if fully_populated(gpu, parts) and not owned:
                gpus_in_server = per  # the baseboard ships with all its GPUs
    if ch_name == "pcie8" and "pcie4" in parts.chassis and gpus_in_server <= parts.chassis["pcie4"].gpus:
        ch_name = "pcie4"  # four or fewer cards: the 2U four-slot server (less base power, less rack space)
        ch = parts.chassis[ch_name]
    gpu_mem_gib = (gpu.usable_memory_gib if gpu else 0) * gpus_in_server
    is_apple = gpu is not None and gpu.segment == "apple"
    channels = 0 if (is_apple or owned) else cpu.memory_channels * cpu_sockets
    ram_need = max(2 * gpu_mem_gib, host_ram_gib)
    ram_floor = max(gpu_mem_gib, host_ram_gib)  # pinned staging of the weights / CPU model + KV
    ram, dimms, dimm_gib = populate_ram(ram_need, channels)
    nvme = _nvme_tb(3 * model_bytes / 1e12 + 1.0, parts)
    if multi_node:
        nic = parts.nic["ndr_400g_per_gpu"]
        nic_count = gpus_in_server
        network = f"{nic_count}x 400G NDR InfiniBand/RoCE (one per GPU, rail-optimised) + 2x 25GbE front-end"
    elif gpus_in_server >= 4:
        nic, nic_count = parts.nic["ethernet_2x100g"], 1
        network = "2x 100GbE (bonded, to the gateway VLAN) + 1GbE BMC"
    else:
        nic, nic_count = parts.nic["ethernet_2x25g"], 1
        network = "2x 25GbE (bonded, to the gateway VLAN) + 1GbE BMC"
    if owned:
        network = "the existing server's NICs (to the gateway VLAN)"
    gpu_w = (gpu.tdp_w if gpu else 0) * gpus_in_server
    cpu_w = cpu.tdp_w * cpu_sockets if (gpu is None or gpu.segment != "apple") else 0
    rest_w = ch.base_w + nic.w * nic_count + cpu_w + ram / 64 * 10  # ~10 W per 64 GiB DDR5 RDIMM
    max_w = gpu_w + rest_w
    typical_w = gpu_w * parts.typical_gpu_utilisation + rest_w * parts.typical_rest_utilisation
    psu_w = int(math.ceil(max_w * parts.psu_margin / 100) * 100)
    rack_units = ch.rack_units
    if gpu is not None and gpu.segment == "apple":
        cpu_w = 0
    # mirrored model/OS drives (RAID1) on rack servers; an owned box or an Apple machine keeps its own
    drives = 1 if owned or (gpu is not None and gpu.segment == "apple") else parts.nvme_mirror
    gpu_price_low = gpu.price.low_usd if gpu and gpu.price else 0.0
    gpu_price_high = gpu.price.high_usd if gpu and gpu.price else 0.0
    cpu_low = cpu.price.low_usd if cpu.price else 0.0
    cpu_high = cpu.price.high_usd if cpu.price else 0.0
    host_low = (
        0.0
        if is_apple
        else (
            ch.price_usd.low
            + cpu_low * cpu_sockets
            + ram * parts.memory_usd_per_gib.low
            + drives * nvme * parts.nvme_usd_per_tb.low
            + nic.price_usd.low * nic_count
        )
    )
    host_high = (
        0.0
        if is_apple
        else (
            ch.price_usd.high
            + cpu_high * cpu_sockets
            + ram * parts.memory_usd_per_gib.high
            + drives * nvme * parts.nvme_usd_per_tb.high
            + nic.price_usd.high * nic_count
        )
    )
    low = host_low + gpu_price_low * gpus_in_server
    high = host_high + gpu_price_high * gpus_in_server
    notes = [f"chassis: {ch.for_}"]
    if dimms:
        notes.append(_dimm_note(dimms, dimm_gib, channels, gpu is None, dimm_module(cpu)))
    if drives > 1:
        notes.append(f"storage: {drives}x {nvme:g} TB NVMe mirrored (RAID1); {nvme:g} TB usable")
    if ch_name in ("workstation4", "apple") or owned:
        notes.append(f"power supply: >= {psu_w} W (max draw {max_w:,.0f} W x {parts.psu_margin:g})")
    else:
        notes.append(
            f"power supplies: N+1 redundant, >= {psu_w} W with one supply failed (max draw {max_w:,.0f} W x "
            f"{parts.psu_margin:g})"
        )
    edition = parts.rack_editions.get(gpu.id) if gpu is not None and not owned else None
    if edition is not None:
        notes.append(f"order the {edition.order} (data/server_parts.yaml rack_editions)")
    if owned:
        low = high = 0.0
        notes = [
            "owned: the organisation's existing server; not in capex, no maintenance charged",
            f"check it has at least {ram} GiB RAM and {nvme:g} TB NVMe free for this deployment",
            "CPU, RAM and power are those of a typical host for these GPUs (estimates, not the actual box)",
        ]
    elif fully_populated(gpu, parts):
        notes.append(f"HGX baseboards ship with all {gpus_in_server} GPUs fitted")
    if gpu is not None and gpu.price is None and not owned:
        notes.append(f"no dated price in the catalogue for {gpu.name}: GPU cost not included")
    if is_apple:
        notes.append("Apple machine: CPU, memory and storage are part of the machine's price")
    server = Server(
        name=name,
        role="inference",
        count=servers,
        gpu=gpu.id if gpu else None,
        gpus_per_server=gpus_in_server,
        cpu=cpu.id if not is_apple else "apple-soc",
        cpu_sockets=cpu_sockets if not is_apple else 1,
        ram_gib=ram,
        nvme_tb=nvme,
        network=network,
        psu_w=psu_w,
        power_typical_w=round(typical_w, 1),
        power_max_w=round(max_w, 1),
        cooling_btu_h=round(max_w * W_TO_BTU_H, 1),
        rack_units=rack_units,
        price_usd=Range(low=round(low, 2), expected=round((low + high) / 2, 2), high=round(high, 2)),
        hosts=hosts,
        notes=tuple(notes),
        owned=owned,
    )
    return ServerPlan(
        server=server,
        capex_low=low * servers,
        capex_high=high * servers,
        memory_channels=channels,
        ram_need_gib=ram_need,
        ram_floor_gib=ram_floor,
        dimm_module=dimm_module(cpu),
    )


def _dimm_note(dimms: int, dimm_gib: int, channels: int, cpu_inference: bool, module: str) -> str:
    per = "one per channel" if dimms == channels else "two per channel (DDR5 runs a speed grade lower)"
    why = (
        "the memory bandwidth the CPU sizing assumes needs every channel filled"
        if cpu_inference
        else "a balanced population: a channel left empty cuts the host's memory bandwidth and interleave"
    )
    return f"memory: {dimms}x {dimm_gib} GiB DDR5 {module}, {per} on all {channels} channels ({why})"


def dimm_module(cpu: CPU) -> str:
    """Desktop sockets (two memory channels: AM5, LGA1700/1851) take unbuffered DIMMs; server and
    workstation sockets registered ones."""
    return "UDIMM" if cpu.memory_channels <= 2 else "RDIMM"


# What nginx, Prometheus, Grafana and Open WebUI take when they run beside the engine on one host: a few
# cores and this much RAM (Prometheus' TSDB head for a handful of targets plus Grafana and nginx).
COLOCATED_GATEWAY_RAM_GIB = 16


def colocate_gateway(plan: ServerPlan, parts: ServerParts) -> ServerPlan:
    """The same server with the gateway and monitoring stack on it (a small site: one inference server)."""
    srv = plan.server
    # the stack lives in the engine host's headroom (swap / offload space) when the floor leaves room
    need = max(plan.ram_need_gib or srv.ram_gib, plan.ram_floor_gib + COLOCATED_GATEWAY_RAM_GIB)
    ram, dimms, dimm_gib = populate_ram(need, plan.memory_channels)
    ram = max(ram, srv.ram_gib)  # the slack of a filled board often holds the stack already
    notes = tuple(n for n in srv.notes if not n.startswith("memory: "))
    if dimms:
        dimm = _dimm_note(dimms, dimm_gib, plan.memory_channels, srv.gpu is None, plan.dimm_module)
        notes = (notes[0], dimm, *notes[1:])
    extra_low = 0.0 if srv.owned else (ram - srv.ram_gib) * parts.memory_usd_per_gib.low
    extra_high = 0.0 if srv.owned else (ram - srv.ram_gib) * parts.memory_usd_per_gib.high
    price = srv.price_usd
    if price is not None and not srv.owned:
        price = Range(
            low=round(price.low + extra_low, 2),
            expected=round(price.expected + (extra_low + extra_high) / 2, 2),
            high=round(price.high + extra_high, 2),
        )
    server = srv.model_copy(
        update={
            "ram_gib": ram,
            "price_usd": price,
            "hosts": (*srv.hosts, "gateway", "prometheus", "grafana", "open-webui"),
            "notes": (
                *notes,
                "also runs the gateway (nginx), Prometheus, Grafana and Open WebUI as containers "
                f"({COLOCATED_GATEWAY_RAM_GIB} GiB of its RAM): one inference server and no high availability, "
                "so a separate gateway node would add cost and a second box to patch without adding resilience",
            ),
        }
    )
    return ServerPlan(
        server=server,
        capex_low=plan.capex_low + extra_low,
        capex_high=plan.capex_high + extra_high,
        memory_channels=plan.memory_channels,
        ram_need_gib=need,
        ram_floor_gib=plan.ram_floor_gib + COLOCATED_GATEWAY_RAM_GIB,
        dimm_module=plan.dimm_module,
    )


def gateway_servers(cpu: CPU, high_availability: bool, parts: ServerParts) -> ServerPlan:
    """The gateway / monitoring node(s): nginx, Prometheus, Grafana, Open WebUI."""
    ch = parts.chassis["gateway1u"]
    count = 2 if high_availability else 1
    ram = 64
    max_w = ch.base_w + cpu.tdp_w + parts.nic["ethernet_2x25g"].w
    nvme = parts.nvme_sizes_tb[0]
    disks_low = parts.nvme_mirror * nvme * parts.nvme_usd_per_tb.low
    disks_high = parts.nvme_mirror * nvme * parts.nvme_usd_per_tb.high
    low = (
        ch.price_usd.low
        + (cpu.price.low_usd if cpu.price else 0)
        + ram * parts.memory_usd_per_gib.low
        + disks_low
    )
    high = (
        ch.price_usd.high
        + (cpu.price.high_usd if cpu.price else 0)
        + ram * parts.memory_usd_per_gib.high
        + disks_high
    )
    psu_w = int(math.ceil(max_w * parts.psu_margin / 100) * 100)
    gw_notes = [
        f"storage: {parts.nvme_mirror}x {nvme:g} TB NVMe mirrored (RAID1)",
        f"power supplies: N+1 redundant, >= {psu_w} W with one supply failed",
    ]
    if high_availability:
        gw_notes.append("two nodes with a floating VIP (keepalived/VRRP) when high availability is asked")
    server = Server(
        name="gateway",
        role="gateway",
        count=count,
        gpu=None,
        gpus_per_server=0,
        cpu=cpu.id,
        cpu_sockets=1,
        ram_gib=ram,
        nvme_tb=nvme,
        network="2x 25GbE (user VLAN + inference VLAN) + 1GbE BMC",
        psu_w=psu_w,
        power_typical_w=round(max_w * parts.typical_rest_utilisation, 1),
        power_max_w=round(max_w, 1),
        cooling_btu_h=round(max_w * W_TO_BTU_H, 1),
        rack_units=ch.rack_units,
        price_usd=Range(low=low, expected=(low + high) / 2, high=high),
        hosts=("gateway", "prometheus", "grafana", "open-webui"),
        notes=tuple(gw_notes),
    )
    return ServerPlan(server=server, capex_low=low * count, capex_high=high * count)
