"""End-to-end driver, run INSIDE a fresh network namespace (`unshare --net`, loopback only) by
test_verify_e2e.py: real llama-server with a tiny generated GGUF, behind a real nginx TLS + API-key +
rate-limit gateway, then `garrison verify` and `garrison bench` with real traffic.

    python isolated_e2e.py LLAMA_SERVER_BINARY WORKDIR  -> prints JSON {step: {rc, stdout, stderr}}
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).parent
ENV = {
    **os.environ,
    "PYTHONPATH": str(HERE.parents[1] / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
}

NGINX_CONF = """
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 1024; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/client_body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    map $http_authorization $api_client {{
        default "";
        "Bearer sk-test-alice" alice;
        "Bearer sk-test-bench" bench;
    }}
    # the benchmark key is exempt from the per-key limit (an empty key is not counted by limit_req)
    map $api_client $limited_client {{ default $api_client; bench ""; }}
    limit_req_zone $limited_client zone=per_key:1m rate=5r/s;
    limit_req_status 429;
    # as the rendered gateway does for llama.cpp: no idle-connection pool (llama-server closes the
    # connection after each streamed response) and a POST that failed before any answer is retried
    upstream llama {{ server 127.0.0.1:{up}; }}
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        default_type application/json;
        ssl_certificate {d}/cert.pem;
        ssl_certificate_key {d}/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        location = /health {{ proxy_pass http://llama; }}
        location ~ ^/(v1/|metrics$) {{
            if ($api_client = "") {{
                add_header WWW-Authenticate 'Bearer' always;
                return 401 '{{"error":{{"message":"invalid or missing API key"}}}}';
            }}
            limit_req zone=per_key burst=10 nodelay;
            proxy_pass http://llama;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Authorization "";
            proxy_buffering off;
            proxy_next_upstream error timeout non_idempotent;
            proxy_read_timeout 300s;
        }}
        location / {{ return 404; }}
    }}
}}
"""


def wait_http(url: str, ctx: object = None, seconds: float = 20) -> None:
    end = time.time() + seconds
    while time.time() < end:
        try:
            with urllib.request.urlopen(url, timeout=2, context=ctx) as r:  # type: ignore[arg-type]
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"not ready: {url}")


def self_signed_cert(key: Path, cert: Path) -> None:
    """Write a 2-day self-signed P-256 key and certificate for localhost / 127.0.0.1 (real openssl)."""
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )


def garrison(*args: str) -> dict[str, object]:
    p = subprocess.run(
        [sys.executable, "-m", "garrison", *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    return {"rc": p.returncode, "stdout": p.stdout, "stderr": p.stderr}


def main() -> None:
    binary, work = sys.argv[1], Path(sys.argv[2])
    sys.path.insert(0, str(HERE))
    import ssl

    from conftest import make_design
    from garrison.testing.tiny_gguf import write_tiny_gguf

    (work / "tmp").mkdir(parents=True, exist_ok=True)
    model = write_tiny_gguf(work / "tiny.gguf")
    up, port = 18080, 18443
    procs = []
    out: dict[str, object] = {}
    try:
        procs.append(
            subprocess.Popen(
                [
                    binary,
                    "-m",
                    str(model),
                    "--alias",
                    "tiny",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(up),
                    "-c",
                    "2048",
                    "-np",
                    "4",
                    "-t",
                    "1",
                    "--metrics",
                    "--no-webui",
                    "--offline",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_http(f"http://127.0.0.1:{up}/health")
        self_signed_cert(work / "key.pem", work / "cert.pem")
        (work / "nginx.conf").write_text(NGINX_CONF.format(d=work, up=up, port=port))
        subprocess.run(
            ["nginx", "-t", "-p", str(work), "-e", str(work / "error.log"), "-c", str(work / "nginx.conf")],
            check=True,
            capture_output=True,
        )
        procs.append(
            subprocess.Popen(
                [
                    "nginx",
                    "-p",
                    str(work),
                    "-e",
                    str(work / "error.log"),
                    "-c",
                    str(work / "nginx.conf"),
                    "-g",
                    "daemon off;",
                ]
            )
        )
        ca = str(work / "cert.pem")
        wait_http(f"https://localhost:{port}/health", ssl.create_default_context(cafile=ca))
        gw = f"https://localhost:{port}"
        design = work / "design.json"
        design.write_text(
            make_design(
                "tiny", ttft_ms=5.0, itl_ms=1.0, output_tokens_per_s=600.0, concurrency=4
            ).model_dump_json()
        )  # type: ignore[attr-defined]

        out["verify"] = garrison(
            "verify",
            gw,
            "--api-key",
            "sk-test-alice",
            "--ca",
            ca,
            "--design",
            str(design),
            "--egress-probe",
            "1.1.1.1:443",
            "--json",
        )
        out["verify_no_ca"] = garrison("verify", gw, "--api-key", "sk-test-alice", "--json", "--no-save")
        out["verify_bad_key"] = garrison(
            "verify", gw, "--api-key", "sk-nope", "--ca", ca, "--json", "--no-save"
        )
        out["verify_direct"] = garrison("verify", f"http://127.0.0.1:{up}", "--json", "--no-save")
        time.sleep(2.5)  # let alice's bucket refill
        out["bench"] = garrison(
            "bench",
            gw,
            "--api-key",
            "sk-test-bench",
            "--ca",
            ca,
            "--model",
            "tiny",
            "--concurrency",
            "1,4",
            "--num-requests",
            "12",
            "--input-len",
            "32",
            "--output-len",
            "32",
            "--design",
            str(design),
            "--json",
            "--out",
            str(work / "report"),
        )
        out["bench_exact"] = garrison(
            "bench",
            f"http://127.0.0.1:{up}",
            "--model",
            "tiny",
            "--endpoint",
            "completions",
            "--tokenizer",
            "server",
            "--input-len",
            "40",
            "--output-len",
            "16",
            "--num-requests",
            "4",
            "--json",
            "--no-save",
        )
        out["bench_bad_key"] = garrison("bench", gw, "--api-key", "sk-nope", "--ca", ca, "--model", "tiny")
        out["history"] = garrison("history", "list")
        out["compare"] = garrison("history", "compare", "run-1", "design-1")
        out["report_exists"] = {
            "rc": 0 if (work / "report" / "report.html").exists() else 1,
            "stdout": "",
            "stderr": "",
        }
        out.update(rendered_gateway(work / "rendered", up, procs))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=10)
    print(json.dumps(out))


def rendered_gateway(gw: Path, up: int, procs: list[subprocess.Popen[bytes]]) -> dict[str, object]:
    """The gateway Garrison itself renders (gateway/nginx.conf + upstreams.conf from render_bundle),
    keys made by garrison.keys, in front of the same llama-server. Only deployment-specific
    addresses are changed for the test: the upstream host (compose service name -> 127.0.0.1) and
    the pid file (kept out of the shared /tmp)."""
    import ssl

    from conftest import make_design
    from garrison.keys import ENGINE_AUTH, add_key, issue_engine_key
    from garrison.render.bundle import render_bundle

    gw.mkdir(parents=True)
    # 2,400 requests/minute designed -> the gateway allows 1,200/minute per key, burst 5
    design = make_design("tiny", ttft_ms=5.0, itl_ms=1.0, output_tokens_per_s=600.0, requests_per_minute=2400)
    files = render_bundle(design)  # type: ignore[arg-type]
    (gw / "design.json").write_text(design.model_dump_json())  # type: ignore[attr-defined]
    conf = files["gateway/nginx.conf"].replace("pid /tmp/nginx.pid;", f"pid {gw}/nginx.pid;")
    (gw / "nginx.conf").write_text(conf)
    ups = files["gateway/upstreams.conf"]
    # every replica address (`<deployment>-<n>:<port>`, in the upstream and the metrics hop) -> the test's server
    ups = re.sub(r"\b[a-z][a-z0-9-]*-\d+:\d+\b", f"127.0.0.1:{up}", ups)
    (gw / "upstreams.conf").write_text(ups)
    keys = gw.parent / "keys" / "api_keys.map"  # outside the bundle folder, as garrison keys insists
    alice = add_key(keys, "alice")
    bench_key = add_key(keys, "bench")
    (gw / "api_keys.map").symlink_to(keys)
    issue_engine_key(keys.parent, None)  # `garrison keys --engine`: the key the gateway presents to engines
    (gw / ENGINE_AUTH).symlink_to(keys.parent / ENGINE_AUTH)
    (gw / "tls").mkdir()
    self_signed_cert(gw / "tls/server.key", gw / "tls/server.crt")

    def nginx_t() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["nginx", "-t", "-p", str(gw), "-e", "/dev/stderr", "-c", str(gw / "nginx.conf")],
            capture_output=True,
            text=True,
        )

    t = nginx_t()
    as_rendered = {"rc": t.returncode, "stdout": t.stdout, "stderr": t.stderr}
    if t.returncode != 0:
        return {
            "rendered_nginx_t_as_rendered": as_rendered,
            "rendered_nginx_t": {"rc": t.returncode, "stdout": t.stdout, "stderr": t.stderr},
        }
    procs.append(
        subprocess.Popen(
            ["nginx", "-p", str(gw), "-e", "/dev/stderr", "-c", str(gw / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    ca = str(gw / "tls/server.crt")
    ctx = ssl.create_default_context(cafile=ca)
    end = time.time() + 20
    while time.time() < end:
        try:
            urllib.request.urlopen("https://localhost:8443/v1/models", timeout=2, context=ctx)
        except urllib.error.HTTPError:
            break  # 401: up and refusing
        except OSError:
            time.sleep(0.1)
    url = "https://localhost:8443"
    res: dict[str, object] = {
        "rendered_nginx_t_as_rendered": as_rendered,
        "rendered_nginx_t": {"rc": 0, "stdout": "", "stderr": ""},
    }
    res["rendered_verify"] = garrison(
        "verify",
        url,
        "--api-key",
        alice,
        "--ca",
        ca,
        "--design",
        str(gw / "design.json"),
        "--egress-probe",
        "1.1.1.1:443",
        "--json",
        "--no-save",
    )
    time.sleep(1)
    # 4 req/s Poisson stays under the per-key 20 req/s limit
    res["rendered_bench"] = garrison(
        "bench",
        url,
        "--api-key",
        bench_key,
        "--ca",
        ca,
        "--model",
        "tiny",
        "--rate",
        "4",
        "--num-requests",
        "8",
        "--input-len",
        "32",
        "--output-len",
        "16",
        "--json",
        "--no-save",
    )
    return res


if __name__ == "__main__":
    main()
