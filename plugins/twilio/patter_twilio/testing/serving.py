"""`serve_app`: run an ASGI app (your Patter server) on 127.0.0.1 for the length of a test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any


@contextlib.asynccontextmanager
async def serve_app(app: Any, *, startup_timeout_s: float = 10.0) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port; yields ``http://127.0.0.1:PORT``."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host="127.0.0.1",  # tests only: never listen beyond this machine
        port=0,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(), name="patter-test-server")
    try:
        async with asyncio.timeout(startup_timeout_s):
            while not server.started:
                if task.done():
                    task.result()  # surface the startup error
                    raise RuntimeError("uvicorn stopped before it started")
                await asyncio.sleep(0.005)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, startup_timeout_s)
