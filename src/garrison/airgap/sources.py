"""Find the models a design needs on this machine: a HF folder, a HF cache layout, a .gguf file,
or (only when asked and online) the Hugging Face Hub. Pure lookups; nothing is written here."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from garrison.errors import GarrisonError, InputError

Kind = Literal["hf-folder", "hf-cache", "gguf", "hub"]
_SKIP_DIRS = {".git", ".cache", ".huggingface"}
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "vocab.json",
    "tiktoken.model",
)


@dataclass(frozen=True)
class ModelWant:
    """A model the design names: a local path or a catalogue / Hugging Face id."""

    ref: str  # as written in the requirements or design
    path: str | None = None
    repo_id: str | None = None  # Hugging Face repo id when known


@dataclass(frozen=True)
class ResolvedModel:
    """A model found locally: every file to pack (relative name -> real path) and its origin."""

    want: ModelWant
    kind: Kind
    root: Path
    files: tuple[tuple[str, Path], ...]  # relative POSIX name inside the model, resolved source path
    origin: dict[str, str]
    notes: tuple[str, ...] = field(default=())

    @property
    def packed_name(self) -> str:
        """Folder (or .gguf file) name under models/ in the pack and in --models-dir."""
        if self.kind == "gguf":
            return self.root.name
        repo = self.origin.get("repo_id")
        if self.kind in ("hf-cache", "hub") and repo:
            return repo.replace("/", "--")
        return self.root.name


def catalogue_repo_id(model_id: str) -> str | None:
    """The Hugging Face id of a catalogue model, or the id itself when it already is `org/name`."""
    if "/" in model_id:
        return model_id
    try:
        cat = importlib.import_module("garrison.catalogue").load_catalogue()
        return str(cat.model(model_id).hf_id)
    except (ImportError, AttributeError, GarrisonError, KeyError):
        return None


def default_hf_caches() -> list[Path]:
    """The hub caches huggingface_hub itself would use ($HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/...)."""
    out: list[Path] = []
    if os.environ.get("HF_HUB_CACHE"):
        out.append(Path(os.environ["HF_HUB_CACHE"]))
    if os.environ.get("HF_HOME"):
        out.append(Path(os.environ["HF_HOME"]) / "hub")
    out.append(Path.home() / ".cache" / "huggingface" / "hub")
    return out


def _folder_files(root: Path) -> tuple[tuple[str, Path], ...]:
    """Every file under `root` (following the HF cache's symlinks), sorted, without VCS/cache dirs."""
    files: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in filenames:
            p = Path(dirpath) / name
            if name.endswith((".lock", ".incomplete")) or not p.is_file():
                continue
            files.append((p.relative_to(root).as_posix(), p.resolve()))
    return tuple(sorted(files))


def _local_dir_revision(root: Path) -> str:
    """Commit hash that `huggingface-cli download --local-dir` records in .cache/huggingface/download."""
    meta = root / ".cache" / "huggingface" / "download"
    if meta.is_dir():
        for m in sorted(meta.rglob("*.metadata")):
            first = m.read_text(errors="replace").splitlines()[:1]
            if first and len(first[0].strip()) == 40:
                return first[0].strip()
    return ""


def _cache_repo_dir_snapshot(repo_dir: Path) -> tuple[Path, str] | None:
    """(snapshot folder, revision) of a `models--org--name` cache folder, via refs/main."""
    ref = repo_dir / "refs" / "main"
    snaps = repo_dir / "snapshots"
    if ref.is_file():
        rev = ref.read_text().strip()
        if (snaps / rev).is_dir():
            return snaps / rev, rev
    if snaps.is_dir():
        revs = sorted(p for p in snaps.iterdir() if p.is_dir())
        if len(revs) == 1:
            return revs[0], revs[0].name
    return None


def _repo_id_from_cache_dir(name: str) -> str:
    return name.removeprefix("models--").replace("--", "/", 1)


def classify(path: Path, want: ModelWant) -> ResolvedModel | None:
    """Describe an existing local model path, or None when it is not one."""
    path = path.expanduser()
    if path.is_file():
        if path.suffix != ".gguf":
            return None
        real = path.resolve()
        origin = {"kind": "gguf", "source": str(path)}
        return ResolvedModel(want, "gguf", path, ((path.name, real),), origin)
    if not path.is_dir():
        return None
    # a snapshot inside a hub cache: .../models--org--name/snapshots/<rev>
    if path.parent.name == "snapshots" and path.parent.parent.name.startswith("models--"):
        repo = _repo_id_from_cache_dir(path.parent.parent.name)
        origin = {"kind": "hf-cache", "repo_id": repo, "revision": path.name, "source": str(path)}
        return _with_checks(ResolvedModel(want, "hf-cache", path, _folder_files(path), origin))
    if path.name.startswith("models--") and (path / "snapshots").is_dir():
        snap = _cache_repo_dir_snapshot(path)
        if snap is None:
            return None
        repo = _repo_id_from_cache_dir(path.name)
        origin = {"kind": "hf-cache", "repo_id": repo, "revision": snap[1], "source": str(snap[0])}
        return _with_checks(ResolvedModel(want, "hf-cache", snap[0], _folder_files(snap[0]), origin))
    files = _folder_files(path)
    if not files:
        return None
    origin = {"kind": "local-folder", "source": str(path)}
    rev = _local_dir_revision(path)
    if rev:
        origin["revision"] = rev
    if want.repo_id:
        origin["repo_id"] = want.repo_id
    return _with_checks(ResolvedModel(want, "hf-folder", path, files, origin))


def _with_checks(m: ResolvedModel) -> ResolvedModel:
    """Notes on files an engine would otherwise try to fetch at start-up."""
    names = {rel.split("/")[-1] for rel, _ in m.files}
    notes: list[str] = []
    if names & {n for n in names if n.endswith(".gguf")}:
        return m
    if "config.json" not in names:
        notes.append(f"{m.want.ref}: no config.json; engines cannot load it offline")
    if not names & set(_TOKENIZER_FILES):
        notes.append(f"{m.want.ref}: no tokenizer files; an engine would try to download one at start-up")
    return ResolvedModel(m.want, m.kind, m.root, m.files, m.origin, tuple(notes))


def _candidates(want: ModelWant, sources: list[Path]) -> list[Path]:
    """Where a model may sit inside one of the --model-source folders (or the default HF caches)."""
    out: list[Path] = []
    names: list[str] = []
    if want.path:
        names.append(Path(want.path).name)
    else:
        names.append(want.ref)
        if not want.ref.endswith(".gguf"):
            names.append(want.ref + ".gguf")
    repo = want.repo_id
    for src in sources:
        src = src.expanduser()
        if repo:
            cache_name = "models--" + repo.replace("/", "--")
            out += [
                src / cache_name,
                src / "hub" / cache_name,
                src / repo.replace("/", "--"),
                src / repo,
                src / repo.split("/")[-1],
            ]
            if src.name == cache_name:
                out.append(src)
        out += [src / n for n in names]
        if src.name in names or (src.suffix == ".gguf" and src.name in names):
            out.append(src)
    return out


def resolve(want: ModelWant, base_dir: Path, sources: list[Path]) -> ResolvedModel | None:
    """Find `want` locally: its own path (relative to the input file, then the working directory),
    then inside `sources`, then the default Hugging Face caches. None when not found."""
    tried: list[Path] = []
    if want.path:
        p = Path(want.path).expanduser()
        tried += [p] if p.is_absolute() else [base_dir / p, Path.cwd() / p]
    tried += _candidates(want, sources)
    if want.repo_id:
        tried += _candidates(ModelWant(want.ref, None, want.repo_id), default_hf_caches())
    for cand in tried:
        found = classify(cand, want)
        if found is not None:
            return found
    return None


def download(want: ModelWant, cache_dir: Path | None, revision: str | None = None) -> ResolvedModel:
    """Download `want.repo_id` from the Hugging Face Hub (revision pinned to the commit resolved now).

    Only called when the user asked for downloads; needs `huggingface_hub` (extra `garrison[hf]`)."""
    if not want.repo_id:
        raise InputError(
            want.ref, "no Hugging Face repo id is known for it", "give a local path or an org/name id"
        )
    try:
        hub = importlib.import_module("huggingface_hub")
    except ImportError as e:
        raise InputError(want.ref, "downloading needs huggingface_hub", "pip install 'garrison[hf]'") from e
    try:
        snap = Path(hub.snapshot_download(want.repo_id, revision=revision, cache_dir=cache_dir))
    except Exception as e:  # network, auth, gated repo: one line with the cause
        raise InputError(
            want.ref,
            f"download of {want.repo_id} failed ({type(e).__name__}: {e})",
            "check the network and HF_TOKEN, or provide the files with --model-source",
        ) from e
    origin = {"kind": "hub", "repo_id": want.repo_id, "revision": snap.name, "source": str(snap)}
    return _with_checks(ResolvedModel(want, "hub", snap, _folder_files(snap), origin))
