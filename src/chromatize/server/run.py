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
    import warnings

    import uvicorn
    from PIL import Image

    config = config or ServerConfig()
    # The server's --max-megapixels is the limit: Pillow's warning and guard must not speak or undercut it.
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    if Image.MAX_IMAGE_PIXELS and config.max_pixels > 2 * Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = config.max_pixels // 2 + 1

    from chromatize.server.app import create_app

    app = create_app(model_table(models), config)
    print(f"chromatize: open http://{'localhost' if host in ('127.0.0.1', '::1') else host}:{port}/ in a browser", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="info")
