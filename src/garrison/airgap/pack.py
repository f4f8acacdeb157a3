"""`pack`: everything a design needs in one verifiable set of files, optionally split into volumes.

Order matters for "nothing half-written": every input is resolved (models, wheelhouse, bundle)
before the output folder is touched. Then pieces are copied one by one, each written atomically
and recorded in a progress file, so an interrupted pack continues where it stopped.
`manifest.json` is written last: its presence marks a complete pack."""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from garrison import __version__, engines
from garrison.airgap import images as img
from garrison.airgap import sources as src
from garrison.airgap.manifest import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    STATE_NAME,
    FileEntry,
    ImageEntry,
    Manifest,
    ModelEntry,
    Piece,
    Role,
    manifest_text,
    sign_bytes,
)
from garrison.airgap.progress import Reporter, Silent
from garrison.airgap.streamio import copy_range_hashed, hash_into, sha256_file
from garrison.atomic import write_bytes_atomic as write_atomic
from garrison.design import Design
from garrison.errors import GarrisonError, InputError
from garrison.requirements import Requirements

STAGING = ".garrison-staging"
OWNED_TOP = ("models", "images", "wheelhouse", "bundle", "README-AIRGAP.txt", STAGING)
_VOL_DIR = re.compile(r"^vol\d{3}$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)


def parse_size(text: str | int) -> int:
    """Bytes in '4G', '700M', '1.5GiB' or a plain byte count (K/M/G/T are binary, 1024-based)."""
    if isinstance(text, int):
        value = text
    else:
        m = _SIZE.match(text)
        if not m:
            raise InputError("--volume-size", f"{text!r} is not a size", "write it like 4G, 700M or 1048576")
        value = int(float(m.group(1)) * 1024 ** " kmgt".index(m.group(2).lower() or " "))
    if value < 1024 * 1024:
        raise InputError("--volume-size", f"{value} bytes is too small", "use at least 1M")
    return value


@dataclass(frozen=True)
class PackInput:
    """What the source file asks for."""

    name: str
    design: Design | None
    wants: tuple[src.ModelWant, ...]
    engine_images: tuple[str, ...]
    base_dir: Path
    notes: tuple[str, ...] = ()
    planned: bool = True  # False when requirements could not be planned (no images, no bundle)


@dataclass(frozen=True)
class Item:
    """One logical file to pack: from a file on disk or from bytes in memory."""

    path: str
    role: Role
    size: int
    origin: dict[str, str] = field(default_factory=dict)
    source: Path | None = None
    data: bytes | None = None


@dataclass(frozen=True)
class PackResult:
    """Where the pack is, its manifest, and how much work this run did."""

    out_dir: Path
    manifest: Manifest
    pieces_reused: int
    bytes_written: int


def _validation_error(source: Path, e: ValidationError) -> InputError:
    err = e.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    return InputError(f"{source}:{loc}" if loc else str(source), err["msg"], "fix that field and run again")


def load_input(source: Path) -> PackInput:
    """Read a design.json, or a requirements YAML (either shape) which is then planned.

    For requirements the models packed are the ones the planner deploys; when planning fails
    (e.g. an escalation), the models the requirements name are packed and the pack is marked
    incomplete, since the engine images and bundle need a design."""
    if not source.is_file():
        raise InputError(str(source), "no such file", "give a requirements YAML or a design.json")
    base = source.parent.resolve()
    if source.suffix == ".json":
        try:
            design = Design.model_validate_json(source.read_bytes())
        except ValidationError as e:
            raise _validation_error(source, e) from e
        return _from_design(design, base, ())
    from garrison.requirements_file import load_requirements

    req = load_requirements(source)
    try:
        run_plan = importlib.import_module("garrison.cli.plan_cmd").run_plan
        design = run_plan(source)
    except GarrisonError as e:
        notes = (
            f"planning failed ({e.one_line()}): packed the models the requirements name; no images or "
            "bundle. Pack the design.json from `garrison plan --out` instead to include them",
        )
        return PackInput(
            req.organisation.name, None, _wants_from_requirements(req, []), (), base, notes, planned=False
        )
    return _from_design(design, base, ())


def _from_design(design: Design, base: Path, notes: tuple[str, ...]) -> PackInput:
    wants_d: dict[tuple[str | None, str | None, str], src.ModelWant] = {}
    for d in design.deployments:
        w = (
            src.ModelWant(d.model_path, path=d.model_path)
            if d.model_path
            else src.ModelWant(d.model_id, repo_id=src.catalogue_repo_id(d.model_id))
        )
        wants_d.setdefault((w.path, w.repo_id, w.ref), w)
    engine_images = tuple(sorted({d.engine_image for d in design.deployments if d.engine_image}))
    return PackInput(design.name, design, tuple(wants_d.values()), engine_images, base, notes)


def _optional_module(name: str) -> object:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _wants_from_requirements(req: Requirements, notes: list[str]) -> tuple[src.ModelWant, ...]:
    out: dict[tuple[str | None, str], src.ModelWant] = {}
    for uc in req.use_cases:
        for ref in uc.model_refs():
            if ref.path:
                out.setdefault((ref.path, ref.path), src.ModelWant(ref.path, path=ref.path))
            elif ref.recommend:
                notes.append(
                    f"use case {uc.name}: `recommend` needs the planner to choose a model; not packed"
                )
            elif ref.id:
                out.setdefault((None, ref.id), src.ModelWant(ref.id, repo_id=src.catalogue_repo_id(ref.id)))
    return tuple(out.values())


def resolve_models(
    inp: PackInput, model_sources: Sequence[Path], download: bool, reporter: Reporter
) -> list[src.ResolvedModel]:
    """Every model located, or one InputError listing all that are missing and how to provide them."""
    found: list[src.ResolvedModel] = []
    missing: list[src.ModelWant] = []
    for want in inp.wants:
        m = src.resolve(want, inp.base_dir, list(model_sources))
        if m is None:
            missing.append(want)
        else:
            found.append(m)
    if missing and download:
        still: list[src.ModelWant] = []
        for want in missing:
            if want.repo_id:
                reporter.note(f"downloading {want.repo_id} from the Hugging Face Hub (this uses the network)")
                found.append(src.download(want, None))
            else:
                still.append(want)
        missing = still
    if missing:
        listed = ", ".join(
            f"{w.ref}" + (f" ({w.repo_id})" if w.repo_id and w.repo_id != w.ref else "") for w in missing
        )
        raise InputError(
            "models",
            f"not found on this machine: {listed}",
            "pass --model-source DIR holding the model folder, a Hugging Face cache (models--org--name) "
            "or the "
            ".gguf file; or run pack with --download on a connected machine. Nothing was written",
        )
    return found


def check_model_formats(design: Design, models: Sequence[src.ResolvedModel]) -> None:
    """Refuse a model the deployment's engine cannot load: llama.cpp needs a .gguf file; vLLM and
    SGLang load a Hugging Face folder (safetensors), not a GGUF. Raised before anything is written."""
    by_ref = {m.want.ref: m for m in models}
    for i, dep in enumerate(design.deployments):
        m = by_ref.get(dep.model_path or dep.model_id)
        if m is None:
            continue
        profile = engines.get(dep.engine, f"deployments[{i}].engine")
        is_gguf = m.kind == "gguf"
        if profile.single_file_model == is_gguf:
            continue
        ck = dep.checkpoint
        if profile.single_file_model:
            want = f"a .gguf file ({dep.quant})"
            if ck is not None and ck.file:
                want += f", e.g. {ck.file} from {ck.repo}"
        else:
            want = "a Hugging Face model folder (config.json + safetensors)"
            if ck is not None:
                want += f", e.g. {ck.repo}"
        found = "a GGUF file" if is_gguf else f"a {m.kind} folder"
        raise InputError(
            f"deployments[{i}] ({dep.name or dep.use_case})",
            f"{profile.title} cannot load the model found for {m.want.ref}: {found} at {m.root}",
            f"pass --model-source with {want}. Nothing was written",
        )


def _model_items(models: list[src.ResolvedModel]) -> tuple[list[Item], list[ModelEntry]]:
    items: list[Item] = []
    entries: list[ModelEntry] = []
    used: set[str] = set()
    for m in models:
        name = m.packed_name
        k = 2
        while name in used:
            name, k = f"{m.packed_name}-{k}", k + 1
        used.add(name)
        base = f"models/{name}"
        for rel, path in m.files:
            logical = base if m.kind == "gguf" else f"{base}/{rel}"
            items.append(Item(logical, "model", path.stat().st_size, dict(m.origin), source=path))
        entries.append(ModelEntry(name=name, path=base, kind=m.kind, origin=dict(m.origin)))
    return items, entries


def _render_bundle(
    design: Design | None, notes: list[str], image_digests: dict[str, str] | None = None
) -> dict[str, str]:
    """The deployment bundle as {path: text}: the renderer's when present (images pinned to the digests
    the pack's archives prove), else what `plan --out` writes."""
    if design is None:
        return {}
    render = getattr(_optional_module("garrison.render"), "render_bundle", None)
    if callable(render):
        files = render(design, image_digests=image_digests) if image_digests else render(design)
        return {str(k): v if isinstance(v, str) else str(v) for k, v in dict(files).items()}
    from garrison.outputs import design_files

    notes.append("the bundle renderer is not available: bundle/ holds design.json only")
    return design_files(design)


def _readme(name: str, complete: bool) -> bytes:
    text = f"""Garrison air-gap pack: {name}

On the isolated machine (Garrison itself installs from wheelhouse/):
  python3 -m venv /opt/garrison && /opt/garrison/bin/pip install --no-index --find-links wheelhouse garrison
  garrison airgap verify . --trust signer.pub
  garrison airgap install . --models-dir /srv/models

Every file is listed in manifest.json with its size and SHA-256.
"""
    if not complete:
        text += "\nThis pack is INCOMPLETE: see images/SAVE-IMAGES.sh and manifest.json.\n"
    return text.encode()


def plan_pieces(items: Sequence[Item], volume_size: int | None) -> list[Piece]:
    """Lay files into volumes in order, splitting a file where a volume fills (sha256 filled later)."""
    pieces: list[Piece] = []
    vol, room = 1, volume_size or 0
    for it in items:
        if volume_size is None:
            pieces.append(Piece(stored=it.path, file=it.path, offset=0, size=it.size, sha256=""))
            continue
        parts: list[tuple[int, int, int]] = []
        off = 0
        while True:
            if room == 0:
                vol, room = vol + 1, volume_size
            n = min(room, it.size - off)
            parts.append((vol, off, n))
            off += n
            room -= n
            if off >= it.size:
                break
        for k, (v, o, n) in enumerate(parts):
            suffix = "" if len(parts) == 1 else f".part{k:03d}"
            pieces.append(
                Piece(
                    stored=f"vol{v:03d}/{it.path}{suffix}",
                    file=it.path,
                    offset=o,
                    size=n,
                    sha256="",
                    volume=v,
                )
            )
    return pieces


def _identity(it: Item) -> str:
    """What must not change for a finished piece to be reused on resume."""
    if it.data is not None:
        return "data:" + hashlib.sha256(it.data).hexdigest()
    assert it.source is not None
    st = it.source.stat()
    return f"{it.source}:{st.st_size}:{st.st_mtime_ns}"


def _prepare_out_dir(out_dir: Path, force: bool) -> dict[str, dict[str, str]]:
    """Check the output folder and return the progress state of an interrupted pack ({} if new)."""
    state_path = out_dir / STATE_NAME
    if not out_dir.exists():
        return {}
    if not out_dir.is_dir():
        raise InputError(str(out_dir), "exists and is not a folder", "pick another --out")
    if force:
        for entry in out_dir.iterdir():
            if entry.name in (*OWNED_TOP, MANIFEST_NAME, SIGNATURE_NAME, STATE_NAME) or _VOL_DIR.match(
                entry.name
            ):
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        return {}
    if state_path.is_file():
        try:
            state = json.loads(state_path.read_text())
            return {str(k): dict(v) for k, v in state.get("pieces", {}).items()}
        except (ValueError, AttributeError, TypeError):
            return {}
    if (out_dir / MANIFEST_NAME).is_file():
        raise InputError(
            str(out_dir),
            "already holds a finished pack",
            "check it with `garrison airgap verify`, or pass --force to pack again",
        )
    if any(out_dir.iterdir()):
        raise InputError(
            str(out_dir), "is not empty and holds no Garrison pack", "pick an empty --out folder"
        )
    return {}


def _stage_images(
    refs: Sequence[str], out_dir: Path, from_dir: dict[str, img.SavedImage], reporter: Reporter
) -> tuple[list[Item], list[ImageEntry], list[str]]:
    """Archive every image (runtime or --image-dir, checked already); the rest become commands for a
    connected machine."""
    items: list[Item] = []
    entries: list[ImageEntry] = []
    reasons: list[str] = []
    runtime: str | None = None
    runtime_checked = False
    unsaved: list[str] = []
    for ref in refs:
        saved = from_dir.get(ref)
        staged = out_dir / STAGING / "images" / img.archive_name(ref)
        record = staged.with_name(staged.name + ".json")
        if saved is None and staged.is_file() and record.is_file():  # saved by an interrupted run
            done = json.loads(record.read_text())
            saved = img.SavedImage(
                ref, str(done["digest"]), staged, str(done["saved_with"]), str(done["note"])
            )
        if saved is None:
            if not runtime_checked:
                runtime, runtime_checked = img.detect_runtime(), True
            if runtime:
                reporter.note(f"saving image {ref} with {runtime}")
                saved = img.save_image(runtime, ref, staged)
                body = {"digest": saved.digest, "saved_with": saved.saved_with, "note": saved.note}
                write_atomic(record, json.dumps(body).encode())
        if saved is None or saved.archive is None:
            unsaved.append(ref)
            entries.append(
                ImageEntry(ref=ref, digest=img._digest_of(ref), note="not saved: no container runtime here")
            )
            continue
        logical = f"images/{img.archive_name(ref)}"
        origin = {"kind": "image", "image": ref, "digest": saved.digest, "saved_with": saved.saved_with}
        items.append(Item(logical, "image", saved.archive.stat().st_size, origin, source=saved.archive))
        entries.append(
            ImageEntry(
                ref=ref, digest=saved.digest, archive=logical, saved_with=saved.saved_with, note=saved.note
            )
        )
    if unsaved:
        script = img.connected_side_script(unsaved).encode()
        items.append(Item("images/SAVE-IMAGES.sh", "doc", len(script), data=script))
        reasons.append(
            f"{len(unsaved)} image(s) not saved (no docker, podman or skopeo here): "
            "run images/SAVE-IMAGES.sh on a "
            "connected machine, then pack again with --image-dir garrison-images"
        )
    return items, entries, reasons


def pack(
    source: Path,
    out_dir: Path,
    model_sources: Sequence[Path] = (),
    volume_size: int | str | None = None,
    sign_key: Path | None = None,
    *,
    wheelhouse: bool = True,
    download: bool = False,
    image_dir: Path | None = None,
    python_version: str | None = None,
    platform: str | None = None,
    force: bool = False,
    reporter: Reporter | None = None,
) -> PackResult:
    """Pack the models, images, wheelhouse and bundle that `source` (requirements or design) needs."""
    rep = reporter or Silent()
    vsize = parse_size(volume_size) if volume_size is not None else None
    inp = load_input(source)
    notes = list(inp.notes)
    models = resolve_models(inp, model_sources, download, rep)
    if inp.design is not None:
        check_model_formats(inp.design, models)
    for m in models:
        notes.extend(m.notes)
    bundle = _render_bundle(inp.design, notes)
    refs = sorted({*inp.engine_images, *img.images_in_files(bundle)})
    wheels: list[Path] = []
    if wheelhouse:
        rep.note("building the wheelhouse (Garrison + dependencies; cached after the first time)")
        from garrison.airgap.wheelhouse import build_wheelhouse

        wheels = build_wheelhouse(python_version, platform)
    if sign_key is not None and not sign_key.is_file():
        raise InputError(
            str(sign_key), "no such key file", "make one with `garrison airgap keygen --out NAME`"
        )

    # archives from --image-dir are read and checked before anything is written: a wrong image stops here
    from_dir: dict[str, img.SavedImage] = {}
    if image_dir is not None:
        for ref in refs:
            found = img.from_archive_dir(ref, image_dir)
            if found is not None:
                from_dir[ref] = found

    # -- from here on the output folder is written --------------------------------------------
    state = _prepare_out_dir(out_dir, force)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(out_dir / STATE_NAME, json.dumps({"pieces": state}).encode())

    items, model_entries = _model_items(models)
    img_items, image_entries, reasons = _stage_images(refs, out_dir, from_dir, rep)
    items += img_items
    pins = {e.ref: e.digest for e in image_entries if e.archive and e.digest and "@" not in e.ref}
    if pins:  # the bundle names each packed image by the digest its archive proves
        bundle = _render_bundle(inp.design, [], pins)
    for w in wheels:
        items.append(Item(f"wheelhouse/{w.name}", "wheel", w.stat().st_size, {"kind": "wheel"}, source=w))
    for path, text in sorted(bundle.items()):
        data = text.encode()
        items.append(Item(f"bundle/{path}", "bundle", len(data), data=data))
    if not inp.planned:
        reasons.append("no design: engine images and the deployment bundle are not included")
    complete = not reasons
    readme = _readme(inp.name, complete)
    items.append(Item("README-AIRGAP.txt", "doc", len(readme), data=readme))
    items.sort(key=lambda i: i.path)

    pieces = plan_pieces(items, vsize)
    by_file: dict[str, list[Piece]] = {}
    for p in pieces:
        by_file.setdefault(p.file, []).append(p)
    total = sum(i.size for i in items)
    rep.start("packing", total)
    reused = written = 0
    done_pieces: list[Piece] = []
    files: list[FileEntry] = []
    try:
        for it in items:
            ident = _identity(it)
            whole = hashlib.sha256()
            src_path = it.source
            if it.data is not None:
                src_path = out_dir / STAGING / "data" / it.path
                write_atomic(src_path, it.data)
            assert src_path is not None
            for p in by_file[it.path]:
                dst = out_dir / p.stored
                prev = state.get(p.stored, {})
                kept = _reusable(dst, p, prev, ident, whole, rep)
                if kept is not None:
                    whole = kept
                    digest = prev["sha256"]
                    reused += 1
                    rep.advance(p.size)
                else:
                    digest = copy_range_hashed(src_path, dst, p.offset, p.size, whole, rep.advance)
                    written += p.size
                    state[p.stored] = {"identity": ident, "sha256": digest}
                    write_atomic(out_dir / STATE_NAME, json.dumps({"pieces": state}).encode())
                done_pieces.append(p.model_copy(update={"sha256": digest}))
            files.append(
                FileEntry(
                    path=it.path, size=it.size, sha256=whole.hexdigest(), role=it.role, origin=it.origin
                )
            )
    except KeyboardInterrupt:
        rep.finish()
        finished = {p.stored for p in done_pieces}
        left = [p for p in pieces if p.stored not in finished]
        raise PackInterrupted(
            f"{out_dir}: interrupted: {len(left)} of {len(pieces)} pieces ({_gib(sum(p.size for p in left))} "
            f"of {_gib(total)}) are left to copy; run the same `garrison airgap pack {source} --out "
            f"{out_dir}` command again to resume (finished pieces are checked against their SHA-256 and kept)"
        ) from None
    rep.finish()

    # pieces from an earlier, differently split attempt that this layout no longer uses
    keep = {p.stored for p in pieces}
    for stale in set(state) - keep:
        (out_dir / stale).unlink(missing_ok=True)
    shutil.rmtree(out_dir / STAGING, ignore_errors=True)
    for leftover in out_dir.rglob("*.partial"):  # a copy killed mid-way under a layout no longer used
        leftover.unlink()

    lint = _lint_bundle(bundle)
    manifest = Manifest(
        garrison_version=__version__,
        name=inp.name,
        complete=complete,
        incomplete_reasons=tuple(reasons),
        volume_size=vsize,
        volumes=max((p.volume for p in pieces), default=0),
        files=tuple(files),
        pieces=tuple(done_pieces),
        models=tuple(model_entries),
        images=tuple(image_entries),
        wheelhouse_requirement=f"garrison=={__version__}" if wheels else "",
        bundle=bool(bundle),
        offline_findings=tuple(lint),
        notes=tuple(notes),
    )
    sig = out_dir / SIGNATURE_NAME
    if sign_key is not None:
        write_atomic(sig, sign_bytes(manifest.canonical_bytes(), sign_key))
    else:
        sig.unlink(missing_ok=True)
    write_atomic(out_dir / MANIFEST_NAME, manifest_text(manifest))
    (out_dir / STATE_NAME).unlink(missing_ok=True)
    for n in notes:
        rep.note(n)
    return PackResult(out_dir, manifest, reused, written)


class PackInterrupted(KeyboardInterrupt):
    """Ctrl-C during a pack, with what is left and how to resume (the CLI prints it, exit 130).

    Still a KeyboardInterrupt, so callers that stop on Ctrl-C keep doing so."""


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def _reusable(
    dst: Path, p: Piece, prev: dict[str, str], ident: str, whole: hashlib._Hash, rep: Reporter
) -> hashlib._Hash | None:
    """The whole-file hash advanced over `dst` when the finished piece there can be kept, else None.

    A piece is kept only if its source is unchanged and its bytes still hash to the SHA-256 recorded
    when it was written: a flipped bit or an edited volume is copied again, never shipped.
    """
    if prev.get("identity") != ident or not dst.is_file() or dst.stat().st_size != p.size:
        return None
    piece, trial = hashlib.sha256(), whole.copy()
    hash_into(dst, 0, p.size, piece, trial)
    if piece.hexdigest() != prev.get("sha256"):
        rep.note(f"{p.stored} no longer matches its recorded SHA-256; copying it again")
        return None
    return trial


def _lint_bundle(bundle: dict[str, str]) -> list[str]:
    if not bundle:
        return []
    from garrison.airgap.offline_lint import lint_files

    return [f.one_line() for f in lint_files(bundle)]


__all__ = ["PackInterrupted", "PackResult", "load_input", "pack", "parse_size", "plan_pieces", "sha256_file"]
