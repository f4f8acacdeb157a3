"""`garrison mcp`: serve Garrison's tools to MCP clients over stdio."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Adds `garrison mcp`."""

    @app.command("mcp")
    def mcp() -> None:
        """MCP server on stdio: plan, estimate, tco, render, validate, simulate, bench, handoff, airgap, history."""
        from garrison.mcp_server import serve_stdio

        serve_stdio()
