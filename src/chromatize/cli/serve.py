"""``chromatize serve``: the local web page and HTTP API (needs the ``[server]`` extra)."""

from __future__ import annotations

import argparse
import sys

from chromatize.cli import add_device_arguments
from chromatize.server.config import ServerConfig

_DEFAULTS = ServerConfig()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="web page and HTTP API for colorizing photos",
        description="Serve the colorizing web page at / and the HTTP API at /api (OpenAPI at /docs).",
    )
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this computer only; 0.0.0.0 exposes it to the network)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--model", action="append", metavar="NAME|PATH",
                   help="shipped model name or checkpoint path; repeat to offer several (default: all shipped models)")
    p.add_argument("--workers", type=int, default=_DEFAULTS.workers, help=f"inference threads (default {_DEFAULTS.workers})")
    p.add_argument("--queue", type=int, default=_DEFAULTS.queue_limit,
                   help=f"requests that may wait for a worker before the server answers 503 (default {_DEFAULTS.queue_limit})")
    p.add_argument("--max-upload-mb", type=float, default=_DEFAULTS.max_upload_bytes / 2**20,
                   help=f"largest upload in MiB (default {_DEFAULTS.max_upload_bytes / 2**20:g})")
    p.add_argument("--max-megapixels", type=float, default=_DEFAULTS.max_pixels / 1e6,
                   help=f"largest image in megapixels (default {_DEFAULTS.max_pixels / 1e6:g})")
    add_device_arguments(p, device=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        from chromatize.server.run import serve
    except ImportError as e:
        print(f"chromatize serve needs the server extra: pip install 'chromatize[server]' ({e})", file=sys.stderr)
        return 2
    try:
        config = ServerConfig(
            workers=args.workers,
            queue_limit=args.queue,
            max_upload_bytes=int(args.max_upload_mb * 2**20),
            max_pixels=int(args.max_megapixels * 1e6),
            backend=args.backend,
        )
        check_port_free(args.host, args.port)
        serve(args.model, host=args.host, port=args.port, config=config)
    except (FileNotFoundError, ValueError) as e:
        print(f"chromatize serve: error: {e}", file=sys.stderr)
        return 2
    return 0


def check_port_free(host: str, port: int) -> None:
    """ValueError in one line when ``port`` on ``host`` cannot be bound (in use, or not allowed), checked
    before anything is loaded or printed; bound the way uvicorn binds it (address reuse on)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise ValueError(f"cannot serve on host {host!r}: {e.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except PermissionError:
            raise ValueError(f"port {port} needs privileges here: choose another with --port (e.g. 8000)") from None
        except OSError:
            raise ValueError(f"port {port} is in use: choose another with --port") from None
