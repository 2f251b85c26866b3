"""``lawt serve``: the app under uvicorn."""

from __future__ import annotations

from pathlib import Path

import torch
import uvicorn

from lawt.web.app import create_app
from lawt.zoo import ZOO_DIR

MAX_CONNECTIONS = 256  # uvicorn answers 503 beyond this many concurrent connections


def run(host: str = "127.0.0.1", port: int = 8000, database_url: str | None = None, root: Path = ZOO_DIR) -> None:
    """Serve the calculator until interrupted; each inference thread uses one torch thread.

    The access log is off: it would record visitors' IP addresses, which the site does not keep.
    """
    torch.set_num_threads(1)
    app = create_app(root=root, database_url=database_url)
    app.state.services.calculator.warm_up()
    uvicorn.run(app, host=host, port=port, server_header=False, limit_concurrency=MAX_CONNECTIONS,
                timeout_keep_alive=5, log_level="info", access_log=False)
