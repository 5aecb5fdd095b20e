"""``serve``: run the web app with uvicorn."""

from __future__ import annotations

import os
from collections.abc import Iterable

from chromatize.server.config import ServerConfig
from chromatize.server.models import model_table


def serve(models: Iterable[str | os.PathLike] | None = None, *, host: str = "127.0.0.1", port: int = 8000,
          config: ServerConfig | None = None) -> None:
    """Serve ``models`` (shipped names or checkpoint paths; all shipped weights if None) until interrupted.

    Binds to 127.0.0.1 unless ``host`` says otherwise: anyone who can reach the port can use the server.
    """
    import uvicorn

    from chromatize.server.app import create_app

    app = create_app(model_table(models), config)
    print(f"chromatize: open http://{'localhost' if host in ('127.0.0.1', '::1') else host}:{port}/ in a browser", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="info")
