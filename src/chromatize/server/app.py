"""The FastAPI app: ``POST /api/colorize``, ``GET /api/models``, ``GET /healthz`` and the page at ``/``."""

# No ``from __future__ import annotations`` here: FastAPI reads the endpoint's Annotated[...] parameters
# at runtime, and they refer to ``config``, a local of create_app.
import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from chromatize import __version__
from chromatize.io import from_rgb_array
from chromatize.server.config import ACCEPTED_FORMATS, OUTPUT_FORMATS, ServerConfig
from chromatize.server.limits import BodySizeLimit
from chromatize.server.models import ModelStore
from chromatize.server.pool import InferencePool, PoolFull
from chromatize.server.uploads import UploadRejected, check_content_type, decode_upload, encode_image

STATIC_DIR = Path(__file__).resolve().parent / "static"
#: Room for the multipart envelope and form fields around the image itself.
FORM_OVERHEAD_BYTES = 64 * 1024
#: The page loads nothing from elsewhere; this header makes the browser enforce it.
PAGE_CSP = "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'"

ERRORS = {
    400: "unreadable, damaged or empty image",
    413: "upload over the byte limit, or image over the pixel limit",
    415: "not an accepted image type",
    422: "invalid parameter (unknown model, render_size or saturation out of range, unknown format, malformed hints, "
         "a hint or stroke point outside the photo, too many hints or points, hints for a model that takes none)",
    503: "all workers busy and the queue full; retry later",
}


class ModelLoadError(RuntimeError):
    """A configured model file could not be loaded (a server set-up problem, answered with 500)."""


def _colorize_job(store: ModelStore, name: str | None, data: bytes, render_size: int | None,
                  saturation: float, fmt: str, config: ServerConfig, hints=(), reference: bytes | None = None) -> tuple[bytes, str]:
    """Resolve the request's settings within the server's limits, then decode, colorize and encode one upload;
    runs in a pool thread. Returns (bytes, media type)."""
    from chromatize.hints import HintError

    try:
        colorizer = store.get(name)
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"model {name or store.default!r} could not be loaded: {e}") from e
    ref = decode_upload(reference, max_pixels=config.max_pixels).rgb if reference is not None else None
    try:
        settings = colorizer.prepare(render_size=render_size, saturation=saturation, hints=hints, reference=ref,
                                     limits=config.limits)
    except ValueError as e:  # out of this server's limits, or hints for a model that takes none
        raise UploadRejected(422, str(e)) from None
    upload = decode_upload(data, max_pixels=config.max_pixels)
    try:
        result = colorizer.colorize_array(upload.rgb, settings)
    except HintError as e:  # a hint outside the photo
        raise UploadRejected(422, str(e)) from None
    return encode_image(from_rgb_array(result, upload.alpha), fmt, jpeg_quality=config.jpeg_quality)


def create_app(models: ModelStore | Mapping[str, Any], config: ServerConfig | None = None,
               *, default_model: str | None = None) -> FastAPI:
    """Build the web app serving ``models`` ({name: Colorizer or checkpoint path}, or a ModelStore).

    Model files are loaded on first use, once. ``config`` sets the limits (see :class:`ServerConfig`).
    """
    config = config or ServerConfig()
    store = models if isinstance(models, ModelStore) else ModelStore(models, default=default_model, backend=config.backend)
    pool = InferencePool(config.workers, config.queue_limit)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        pool.shutdown()

    app = FastAPI(
        title="chromatize",
        version=__version__,
        description="Colorize black-and-white photographs. Upload an image to `POST /api/colorize`; "
        "the answer is the colorized image at full resolution.",
        lifespan=lifespan,
    )
    app.state.store, app.state.pool, app.state.config = store, pool, config
    too_large = f"upload over the limit of {config.max_upload_bytes} bytes ({config.max_upload_bytes / 2**20:.1f} MiB)"
    app.add_middleware(BodySizeLimit, max_bytes=2 * config.max_upload_bytes + FORM_OVERHEAD_BYTES,  # photo + reference
                       paths=("/api/colorize",), detail=too_large)

    @app.exception_handler(UploadRejected)
    async def _rejected(_request: Request, exc: UploadRejected) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    @app.exception_handler(PoolFull)
    async def _busy(_request: Request, exc: PoolFull) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(ModelLoadError)
    async def _load_failed(_request: Request, exc: ModelLoadError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=500)

    @app.post(
        "/api/colorize",
        response_class=Response,
        summary="Colorize one image",
        responses={
            200: {"content": {m: {} for _, m in OUTPUT_FORMATS.values()}, "description": "the colorized image, same size as the upload"},
            **{code: {"description": text} for code, text in ERRORS.items()},
        },
    )
    async def colorize(
        image: Annotated[UploadFile, File(description=f"the photo ({', '.join(ACCEPTED_FORMATS)})")],
        model: Annotated[str | None, Form(description="a name from GET /api/models; default model if omitted")] = None,
        render_size: Annotated[int | None, Form(description=f"long side the network sees, {config.min_render_size} to "
                                                           f"{config.max_render_size}; the model's own if omitted")] = None,
        saturation: Annotated[float, Form(description=f"0 gray, 1 as predicted, >1 more vivid; a number from 0 to "
                                                      f"{config.max_saturation:g}")] = 1.0,
        format: Annotated[Literal["png", "jpeg"], Form(description="output format (jpeg drops alpha)")] = "png",
        hints: Annotated[str | None, Form(description='colour hints as JSON: [{"x": 120, "y": 340, "color": "#1f3a93"}, '
                                                     '{"points": [[10, 20], [60, 25]], "color": "red"}] (dots and strokes, '
                                                     "x, y in the photo's pixels; optional radius)")] = None,
        reference: Annotated[UploadFile | None, File(description="a colour photo of a similar scene (its colours become hints)")] = None,
    ) -> Response:
        from chromatize.hints import HintError, hints_from_json

        check_content_type(image.content_type)
        if model not in (None, "") and model not in store.names:
            raise HTTPException(422, f"unknown model {model!r}; available: {', '.join(store.names)}")
        try:
            hint_list = hints_from_json(hints) if hints not in (None, "") else []
        except HintError as e:
            raise HTTPException(422, str(e)) from None
        data = await image.read(config.max_upload_bytes + 1)
        if len(data) > config.max_upload_bytes:
            raise UploadRejected(413, too_large)
        ref_data = None
        if reference is not None and reference.filename:
            check_content_type(reference.content_type)
            ref_data = await reference.read(config.max_upload_bytes + 1)
            if len(ref_data) > config.max_upload_bytes:
                raise UploadRejected(413, too_large)
        if model in (None, "") and (hint_list or ref_data is not None) and "hints" in store.names:
            model = "hints"  # the hint features pick the hints model when none is named
        body, media_type = await pool.run(_colorize_job, store, model, data, render_size, saturation, format, config,
                                          hint_list, ref_data)
        headers = {
            "Content-Disposition": f'inline; filename="colorized.{format}"',
            "Cache-Control": "no-store",
            "X-Chromatize-Model": model or store.default,
        }
        return Response(body, media_type=media_type, headers=headers)

    @app.get("/api/models", summary="Models, formats and limits of this server")
    async def list_models() -> dict[str, Any]:
        limits = {k: v for k, v in config.to_dict().items() if k not in ("workers", "queue_limit", "jpeg_quality")}
        return {
            "default": store.default,
            "models": store.describe(),
            "formats": list(OUTPUT_FORMATS),
            "accepted": list(ACCEPTED_FORMATS),
            "limits": limits,
        }

    @app.get("/healthz", summary="Liveness and load")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "busy": pool.admitted, "capacity": pool.capacity}

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Content-Security-Policy": PAGE_CSP})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
