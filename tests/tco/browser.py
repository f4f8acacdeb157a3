"""A tiny Chrome DevTools Protocol client over real headless Chromium, for the report tests.

It records console messages, uncaught exceptions, log errors and every network request a page makes.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    "--window-size=1200,900",
)


@dataclass
class PageResult:
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    svg_img_count: int = 0
    svg_titled_count: int = 0
    screenshot_png: bytes = b""
    values: dict[str, Any] = field(default_factory=dict)  # name -> result of an `evaluate` expression


def open_page(
    path: Path, screenshot: bool = False, timeout_s: float = 30.0, evaluate: dict[str, str] | None = None
) -> PageResult:
    """Load `path` in a fresh headless Chromium and report what happened; `evaluate` maps names to
    JavaScript expressions run over DevTools after load (results in `values`)."""
    # chromium helpers may still be writing the profile as it exits: cleanup errors are not test failures
    with tempfile.TemporaryDirectory(prefix="garrison-chromium-", ignore_cleanup_errors=True) as udd:
        proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={udd}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            port = _devtools_port(Path(udd), proc, timeout_s)
            ws_url = _page_ws_url(port, timeout_s)
            with connect(ws_url, max_size=64 * 2**20, open_timeout=timeout_s) as ws:
                return _drive(ws, path.resolve().as_uri(), screenshot, timeout_s, evaluate or {})
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _page_ws_url(port: int, timeout_s: float) -> str:
    """The page target's websocket URL; retried while Chromium is still starting (a loaded machine)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            targets = httpx.get(f"http://127.0.0.1:{port}/json", timeout=5).json()
            pages = [t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page"]
            if pages:
                return str(pages[0])
        except (httpx.HTTPError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("chromium's DevTools endpoint did not list a page")
        time.sleep(0.2)


def _devtools_port(udd: Path, proc: subprocess.Popen[bytes], timeout_s: float) -> int:
    marker = udd / "DevToolsActivePort"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if marker.exists() and marker.read_text().strip():
            return int(marker.read_text().splitlines()[0])
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with {proc.returncode}")
        time.sleep(0.1)
    raise TimeoutError("chromium did not open its DevTools port")


def _drive(ws: Any, url: str, screenshot: bool, timeout_s: float, evaluate: dict[str, str]) -> PageResult:
    res = PageResult()
    next_id = 0
    replies: dict[int, dict[str, Any]] = {}
    loaded = False

    def handle(msg: dict[str, Any]) -> None:
        nonlocal loaded
        method, params = msg.get("method"), msg.get("params", {})
        if "id" in msg:
            replies[msg["id"]] = msg
        elif method == "Network.requestWillBeSent":
            res.requests.append(params["request"]["url"])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
            res.console_errors.append(
                " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            )
        elif method == "Runtime.exceptionThrown":
            res.console_errors.append(params["exceptionDetails"].get("text", "exception"))
        elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
            res.console_errors.append(params["entry"]["text"])
        elif method == "Page.loadEventFired":
            loaded = True

    def call(method: str, **params: Any) -> dict[str, Any]:
        nonlocal next_id
        next_id += 1
        ws.send(json.dumps({"id": next_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout_s
        while next_id not in replies:
            handle(json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic()))))
        reply = replies.pop(next_id)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    for domain in ("Network", "Runtime", "Log", "Page"):
        call(f"{domain}.enable")
    call("Page.navigate", url=url)
    deadline = time.monotonic() + timeout_s
    while not loaded and time.monotonic() < deadline:
        handle(json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic()))))
    if not loaded:
        raise TimeoutError(f"{url} did not finish loading")
    time.sleep(0.3)  # let late console messages arrive
    call("Runtime.evaluate", expression="1")
    res.svg_img_count = call(
        "Runtime.evaluate",
        expression="document.querySelectorAll('svg[role=\"img\"]').length",
        returnByValue=True,
    )["result"]["value"]
    res.svg_titled_count = call(
        "Runtime.evaluate",
        returnByValue=True,
        expression="[...document.querySelectorAll('svg[role=\"img\"]')].filter(s => s.querySelector("
        "':scope > title') && s.querySelector(':scope > desc') && s.getAttribute('aria-labelledby'))"
        ".length",
    )["result"]["value"]
    for name, expression in evaluate.items():
        res.values[name] = call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get(
            "value"
        )
    if screenshot:
        shot = call("Page.captureScreenshot", format="png", captureBeyondViewport=False)
        res.screenshot_png = base64.b64decode(shot["data"])
    return res
