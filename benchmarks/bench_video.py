"""Video: flicker and quality of `--temporal off / average / auto`, and end-to-end speed, measured in one run.

Flicker is the warping error in Lab ab: the mean absolute ab difference (Lab units) between consecutive output
frames after aligning them. Clips are made from scikit-image's colour photos (never in the training data):

- pan:    a 640x480 window moving 4 px right and 1 px down per frame over a photo: alignment is exact;
- zoom:   the window shrinking 1 % per frame about a point: alignment by the known affine map;
- scene:  a panning background with a foreground cut-out moving the other way (occlusions, new pixels), film
          flicker (a random brightness gain per frame) and grain; alignment by Farneback optical flow on the
          colour original (a different flow from the DIS flow the method uses), where forward and backward
          flows agree;
- cut:    a pan over one photo, then a pan over another: how far the first frames after the cut are from
          their frame-by-frame colours (0 = not smeared).

PSNR is against the colour original (RGB, 8-bit), averaged over frames. Speed is `colorize_video` end to end
(decode, network, temporal filter, encode with libx264, audio none) on generated mp4 clips.

    PYTHONPATH=src python benchmarks/bench_video.py                 # tables (markdown) on stdout
    PYTHONPATH=src python benchmarks/bench_video.py --still docs/images/video_before_after.jpg
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from skimage import data as skdata

from chromatize import color
from chromatize.inference.pipeline import Colorizer, gray_array
from chromatize.inference.temporal import MODES
from chromatize.inference.video import colorize_frames, colorize_video
from chromatize.io import side_by_side
from chromatize.metrics import psnr

SIZE = (480, 640)  # h, w of the quality clips


@dataclass
class Clip:
    name: str
    frames: list[np.ndarray]  # colour originals, uint8 [H,W,3]
    maps: list[np.ndarray | None]  # per frame t>0: 2x3 affine taking frame-t pixel coords to frame t-1 ones


def _photo(name: str, scale: float) -> np.ndarray:
    img = getattr(skdata, name)()[..., :3]
    return cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)


def _window(src: np.ndarray, A: np.ndarray, size=SIZE) -> np.ndarray:
    """Frame whose pixel (x, y) shows source point A @ (x, y, 1)."""
    return cv2.warpAffine(src, A, (size[1], size[0]), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REFLECT)


def _affine(scale: float, tx: float, ty: float) -> np.ndarray:
    return np.array([[scale, 0, tx], [0, scale, ty]], dtype=np.float64)


def _between(A_prev: np.ndarray, A_cur: np.ndarray) -> np.ndarray:
    """2x3 map from frame-t coords to frame t-1 coords: A_prev^-1 A_cur."""
    P = np.vstack([A_prev, [0, 0, 1]])
    C = np.vstack([A_cur, [0, 0, 1]])
    return (np.linalg.inv(P) @ C)[:2]


def camera_clip(name: str, photo: np.ndarray, affines: list[np.ndarray]) -> Clip:
    frames = [_window(photo, A) for A in affines]
    maps = [None] + [_between(affines[i - 1], affines[i]) for i in range(1, len(affines))]
    return Clip(name, frames, maps)


def pan_clip(n: int) -> Clip:
    return camera_clip("pan", _photo("coffee", 1.5), [_affine(1.0, 40 + 4 * t, 40 + 1 * t) for t in range(n)])


def zoom_clip(n: int) -> Clip:
    photo = _photo("astronaut", 1.6)
    cx, cy = 420, 330
    affines = []
    for t in range(n):
        s = 0.99**t
        affines.append(_affine(s, cx - s * SIZE[1] / 2, cy - s * SIZE[0] / 2))
    return camera_clip("zoom", photo, affines)


def scene_clip(n: int, rng: np.random.Generator) -> Clip:
    """Background pan, a foreground cut-out moving across it, film flicker and grain; no exact alignment."""
    bg = _photo("rocket", 1.3)
    fg = cv2.resize(skdata.chelsea()[40:260, 90:340], (220, 190), interpolation=cv2.INTER_AREA)
    mask = np.zeros(fg.shape[:2], np.float32)
    cv2.ellipse(mask, (110, 95), (105, 90), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 3)[..., None]
    frames = []
    for t in range(n):
        frame = _window(bg, _affine(1.0, 60 + 3 * t, 50)).astype(np.float32)
        x, y = 380 - 9 * t, 150 + int(20 * np.sin(t / 5))
        x0, x1 = max(x, 0), min(x + fg.shape[1], SIZE[1])
        if x1 > x0:
            region = frame[y : y + fg.shape[0], x0:x1]
            m = mask[:, x0 - x : x1 - x]
            region[:] = m * fg[:, x0 - x : x1 - x] + (1 - m) * region
        frame = frame * rng.uniform(0.96, 1.04) + rng.normal(0, 2.0, frame.shape)
        frames.append(np.clip(frame + 0.5, 0, 255).astype(np.uint8))
    return Clip("scene", frames, [None] * n)


def cut_clip(n_before: int, n_after: int) -> tuple[Clip, int]:
    a = pan_clip(n_before)
    b = camera_clip("b", _photo("chelsea", 2.2), [_affine(1.0, 100 + 4 * t, 60) for t in range(n_after)])
    return Clip("cut", a.frames + b.frames, a.maps + [None] + b.maps[1:]), n_before


def ab_of(frames: list[np.ndarray]) -> list[np.ndarray]:
    """uint8 [H,W,3] frames -> ab in Lab units, float32 [2,H,W]."""
    out = []
    for f in frames:
        _, ab = color.rgb_to_l_ab(torch.from_numpy(f).permute(2, 0, 1).float()[None] / 255.0)
        out.append(color.denormalize_ab(ab[0]).numpy())
    return out


def flicker_exact(abs_: list[np.ndarray], maps: list[np.ndarray | None]) -> float:
    """Mean |ab_t(x) - ab_{t-1}(map_t(x))| over pixels whose map lands inside frame t-1, frames with a map."""
    errors = []
    h, w = abs_[0].shape[1:]
    for t in range(1, len(abs_)):
        M = maps[t]
        if M is None:
            continue
        prev = np.stack([cv2.warpAffine(c, M, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP) for c in abs_[t - 1]])
        ys, xs = np.mgrid[0:h, 0:w]
        px, py = M[0, 0] * xs + M[0, 1] * ys + M[0, 2], M[1, 0] * xs + M[1, 1] * ys + M[1, 2]
        valid = (px >= 0) & (px <= w - 1) & (py >= 0) & (py <= h - 1)
        errors.append(np.abs(abs_[t] - prev)[:, valid].mean())
    return float(np.mean(errors))


def _flows(frames: list[np.ndarray]):
    """For t>0: (map_x, map_y, valid) taking frame t to frame t-1, by Farneback flow on the originals' gray."""
    grays = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    h, w = grays[0].shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    out = [None]
    for t in range(1, len(frames)):
        back = cv2.calcOpticalFlowFarneback(grays[t], grays[t - 1], None, 0.5, 4, 21, 3, 5, 1.1, 0)
        fwd = cv2.calcOpticalFlowFarneback(grays[t - 1], grays[t], None, 0.5, 4, 21, 3, 5, 1.1, 0)
        mx, my = gx + back[..., 0], gy + back[..., 1]
        fwd_at = cv2.remap(fwd, mx, my, cv2.INTER_LINEAR)
        valid = (np.linalg.norm(back + fwd_at, axis=2) < 0.5) & (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
        out.append((mx, my, valid))
    return out


def flicker_flow(abs_: list[np.ndarray], flows) -> float:
    errors = []
    for t in range(1, len(abs_)):
        mx, my, valid = flows[t]
        prev = np.stack([cv2.remap(c, mx, my, cv2.INTER_LINEAR) for c in abs_[t - 1]])
        errors.append(np.abs(abs_[t] - prev)[:, valid].mean())
    return float(np.mean(errors))


def mean_psnr(outs: list[np.ndarray], originals: list[np.ndarray]) -> float:
    return float(np.mean([psnr(o.astype(np.float32) / 255, g.astype(np.float32) / 255) for o, g in zip(outs, originals)]))


def run_clip(colorizer: Colorizer, clip: Clip, mode: str) -> list[np.ndarray]:
    grays = [gray_array(f) for f in clip.frames]
    return list(colorize_frames(grays, colorizer, temporal=mode))


def quality(colorizer: Colorizer, n: int, rng: np.random.Generator) -> tuple[list[str], dict]:
    rows = ["| clip | method | flicker (ab) | vs off | PSNR (dB) | vs off |", "|---|---|---:|---:|---:|---:|"]
    results: dict = {}
    for clip in (pan_clip(n), zoom_clip(n), scene_clip(n, rng)):
        flows = _flows(clip.frames) if clip.name == "scene" else None
        measure = (lambda a: flicker_flow(a, flows)) if flows else (lambda a: flicker_exact(a, clip.maps))
        ref = measure(ab_of(clip.frames))
        base = None
        for mode in ("off", "average", "auto"):
            outs = run_clip(colorizer, clip, mode)
            fl, ps = measure(ab_of(outs)), mean_psnr(outs, clip.frames)
            results[(clip.name, mode)] = (fl, ps, outs)
            base = base or (fl, ps)
            rows.append(f"| {clip.name} | {mode} | {fl:.2f} | {fl / base[0]:.0%} | {ps:.2f} | {ps - base[1]:+.2f} |")
        rows.append(f"| {clip.name} | *colour original* | {ref:.2f} | | | |")
    return rows, results


def cut_table(colorizer: Colorizer, n: int) -> list[str]:
    clip, cut = cut_clip(n, 6)
    ab = {mode: ab_of(run_clip(colorizer, clip, mode)) for mode in ("off", "average", "auto")}
    rows = ["| method | frame after cut +0 | +1 | +2 | +5 |", "|---|---:|---:|---:|---:|"]
    for mode in ("average", "auto"):
        d = [float(np.abs(ab[mode][cut + k] - ab["off"][cut + k]).mean()) for k in (0, 1, 2, 5)]
        rows.append(f"| {mode} | " + " | ".join(f"{v:.2f}" for v in d) + " |")
    return rows


def write_mp4(path: Path, frames: list[np.ndarray], rate: int = 25) -> None:
    import av

    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=rate)
        vs.height, vs.width = frames[0].shape[:2]
        vs.pix_fmt = "yuv420p"
        vs.codec_context.options = {"crf": "16", "preset": "veryfast"}
        for i, f in enumerate(frames):
            fr = av.VideoFrame.from_ndarray(gray_array(f), format="rgb24")
            fr.pts = i
            out.mux(vs.encode(fr))
        out.mux(vs.encode())


def speed(colorizer: Colorizer, n: int, repeats: int) -> list[str]:
    rows = ["| size | temporal | frames/s (end to end) | network + compose only |", "|---|---|---:|---:|"]
    photo = _photo("coffee", 3.0)
    with tempfile.TemporaryDirectory() as tmp:
        for h, w in ((480, 640), (720, 1280)):
            frames = [_window(photo, _affine(1.0, 40 + 4 * t, 40 + t), (h, w)) for t in range(n)]
            src = Path(tmp) / f"in_{w}.mp4"
            write_mp4(src, frames)
            grays = [gray_array(f) for f in frames]
            for mode in ("off", "auto"):
                best = best_core = 0.0
                for _ in range(repeats):
                    r = colorize_video(src, Path(tmp) / "out.mp4", colorizer, temporal=mode, overwrite=True)
                    best = max(best, r.fps)
                    start = time.perf_counter()
                    for _ in colorize_frames(grays, colorizer, temporal=mode):
                        pass
                    best_core = max(best_core, n / (time.perf_counter() - start))
                rows.append(f"| {w}x{h} | {mode} | {best:.1f} | {best_core:.1f} |")
    return rows


def still(colorizer: Colorizer, path: Path) -> None:
    """Frame 20 of the scene clip: gray input / frame by frame (off) / auto / colour original, half size."""
    clip = scene_clip(21, np.random.default_rng(0))
    gray = [gray_array(f) for f in clip.frames]
    panels = [gray[20]] + [list(colorize_frames(gray, colorizer, temporal=m))[20] for m in ("off", "auto")]
    image = None
    for panel in panels + [clip.frames[20]]:
        small = Image.fromarray(panel).resize((SIZE[1] // 2, SIZE[0] // 2), Image.Resampling.LANCZOS)
        image = small if image is None else side_by_side(image, small)
    image.save(path, quality=90)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="default")
    p.add_argument("--frames", type=int, default=30, help="frames per quality clip")
    p.add_argument("--speed-frames", type=int, default=60)
    p.add_argument("--repeats", type=int, default=2, help="speed runs per row (the best is reported)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--backend", default="auto", help="auto, torch or onnx (see Colorizer.from_pretrained)")
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--skip-quality", action="store_true")
    p.add_argument("--still", type=Path, help="write gray / off / auto / original of one scene frame here")
    args = p.parse_args()
    colorizer = Colorizer.from_pretrained(args.model, device=args.device, backend=args.backend)
    network = type(colorizer.model).__name__
    print(f"model {args.model} ({network}), render size {colorizer.render_size}, device {args.device}, torch threads "
          f"{torch.get_num_threads()}, load average at start {os.getloadavg()[0]:.2f}, temporal modes {list(MODES)}\n")
    if not args.skip_quality:
        rows, _ = quality(colorizer, args.frames, np.random.default_rng(0))
        print("\n".join(rows), "\n")
        print("\n".join(cut_table(colorizer, max(8, args.frames // 2))), "\n")
    if not args.skip_speed:
        print("\n".join(speed(colorizer, args.speed_frames, args.repeats)), "\n")
    if args.still:
        still(colorizer, args.still)
        print(f"wrote {args.still}")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
