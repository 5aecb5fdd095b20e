"""ASGI middleware refusing request bodies over a byte limit with 413 before they are parsed."""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def send_json(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """Answer 413 for a body on ``paths`` over ``max_bytes``: from Content-Length when sent, else while reading.

    Without a Content-Length (chunked upload) the body is read up to the limit and then replayed to
    the app, so memory stays bounded by ``max_bytes``.
    """

    def __init__(self, app: Callable, *, max_bytes: int, paths: tuple[str, ...], detail: str | None = None):
        self.app = app
        self.max_bytes = max_bytes
        self.paths = paths
        self.detail = detail or f"request body over {max_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            return await self.app(scope, receive, send)
        too_large = self.detail
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            if not length.isdigit():
                return await send_json(send, 400, "invalid Content-Length header")
            if int(length) > self.max_bytes:
                return await send_json(send, 413, too_large)
            return await self.app(scope, receive, send)
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                return await send_json(send, 413, too_large)
            if not message.get("more_body", False):
                break
        replay = iter(messages)

        async def replay_receive() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replay_receive, send)
