"""Air-gap packs: pack on the connected side, verify and install on the isolated side."""

from __future__ import annotations

from garrison.airgap.install import InstallResult, install
from garrison.airgap.manifest import Manifest, generate_keypair
from garrison.airgap.offline_lint import Finding, lint_dir, lint_files
from garrison.airgap.pack import PackResult, pack, parse_size
from garrison.airgap.verify import VerifyReport, verify

__all__ = [
    "Finding",
    "InstallResult",
    "Manifest",
    "PackResult",
    "VerifyReport",
    "generate_keypair",
    "install",
    "lint_dir",
    "lint_files",
    "pack",
    "parse_size",
    "verify",
]
