"""The rendered scripts/preflight.sh, run for real: secrets outside the bundle, modes checked, and a
hostile model path is data, never code."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bundle.designs import cpu_llamacpp_design
from garrison.errors import InputError
from garrison.render import render_bundle, write_bundle

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="files owned by root:<gid> need root")
GID = 4242  # a group no host account is in (101 may be a system group here)


def _site(tmp_path: Path, model_path: str | None = None) -> tuple[Path, dict[str, str]]:
    design = cpu_llamacpp_design()
    if model_path is not None:
        dep = design.deployments[0].model_copy(update={"model_path": model_path})
        design = design.model_copy(update={"deployments": (dep,)})
    bundle = write_bundle(render_bundle(design), tmp_path / "bundle")
    etc = tmp_path / "etc"
    (etc / "tls").mkdir(parents=True)
    (etc / "tls" / "server.crt").write_text("crt")
    (etc / "tls" / "server.key").write_text("key")
    keys = etc / "api_keys.map"
    keys.write_text("# none yet\n")
    models = tmp_path / "models"
    models.mkdir()
    env_file = etc / "compose.env"
    env_file.write_text(
        f"MODELS_DIR={models}\nGARRISON_API_KEYS_FILE={keys}\nGARRISON_TLS_DIR={etc / 'tls'}\n"
        "GRAFANA_ADMIN_PASSWORD=x y $(touch /nonexistent/pwn)\n"
    )
    engine_auth = etc / "engine_auth.conf"
    engine_auth.write_text("# engine key\n")
    env_file.write_text(
        env_file.read_text() + f"GARRISON_ENGINE_AUTH_FILE={engine_auth}\nGARRISON_GATEWAY_GID={GID}\n"
    )
    os.chmod(env_file, 0o600)
    # as the gateway (uid/gid 101, no capabilities) must find them: root-owned, group 101
    for path, mode in (
        (keys, 0o640),
        (engine_auth, 0o640),
        (etc / "tls", 0o750),
        (etc / "tls" / "server.key", 0o640),
    ):
        os.chown(path, 0, GID)
        os.chmod(path, mode)
    os.chmod(etc / "tls" / "server.crt", 0o644)
    return bundle, {"PATH": os.environ["PATH"], "GARRISON_ENV_FILE": str(env_file)}


def _preflight(bundle: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(bundle / "scripts" / "preflight.sh")],
        env=env,
        cwd=bundle.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_preflight_passes_on_a_good_site_and_fails_on_secrets_in_the_bundle(tmp_path: Path) -> None:
    bundle, env = _site(tmp_path)
    model = Path(env["GARRISON_ENV_FILE"]).read_text().split("\n")[0].split("=", 1)[1]
    (Path(model) / "llama-3.2-3b-Q4_K_M.gguf").write_text("gguf")
    r = _preflight(bundle, env)
    assert r.returncode == 0 and "FAIL" not in r.stdout, r.stdout + r.stderr
    (bundle / "compose" / ".env").write_text("GRAFANA_ADMIN_PASSWORD=oops\n")
    r = _preflight(bundle, env)
    assert r.returncode == 1 and "FAIL  secrets outside the bundle" in r.stdout
    (bundle / "compose" / ".env").unlink()
    os.chmod(env["GARRISON_ENV_FILE"], 0o644)
    r = _preflight(bundle, env)
    assert r.returncode == 1 and "FAIL  settings file" in r.stdout
    os.chmod(env["GARRISON_ENV_FILE"], 0o600)
    keys = Path(env["GARRISON_ENV_FILE"]).parent / "api_keys.map"
    os.chown(keys, 0, 0)  # root:root 0640: the gateway (group 101) could not read it
    r = _preflight(bundle, env)
    assert r.returncode == 1 and "FAIL  API key map" in r.stdout, r.stdout
    os.chown(keys, 0, GID)
    os.chmod(keys, 0o644)  # readable by every account on the host
    r = _preflight(bundle, env)
    assert r.returncode == 1 and "FAIL  API key map" in r.stdout, r.stdout


def test_a_hostile_model_path_runs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hostile = "/srv/models/x'$(touch pwned)'`touch pwned`;touch pwned;'.gguf"
    with pytest.raises(InputError, match="model_path"):  # the name policy refuses it at intake
        _site(tmp_path / "refused", hostile)
    # and were it let through, the script's quoting still keeps it data (defence in depth)
    monkeypatch.setattr("garrison.render.bundle.check_names", lambda *a, **k: None)
    bundle, env = _site(tmp_path, hostile)
    r = _preflight(bundle, env)
    assert r.returncode == 1 and "FAIL  model for assistant" in r.stdout, r.stdout + r.stderr
    assert not list(tmp_path.glob("pwned*")) and not list(bundle.glob("pwned*"))
