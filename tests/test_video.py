"""`chromatize video` and the temporal filters: generated clips of a few 64x48 frames, tiny random models."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

av = pytest.importorskip("av")
cv2 = pytest.importorskip("cv2")

from chromatize import color  # noqa: E402
from chromatize.checkpoint import save_checkpoint  # noqa: E402
from chromatize.cli import main  # noqa: E402
from chromatize.inference import video as video_mod  # noqa: E402
from chromatize.inference.pipeline import Colorizer  # noqa: E402
from chromatize.inference.temporal import MODES, FlowPropagation, MovingAverage, make_filter  # noqa: E402
from chromatize.inference.video import VideoError, colorize_frames, colorize_video  # noqa: E402
from chromatize.registry import create_model  # noqa: E402

H, W, PAN, CUT, N = 48, 64, 2, 8, 12
RATE = Fraction(25)


def texture(seed: int, h: int, w: int) -> np.ndarray:
    """A smooth random colour picture, uint8 [h,w,3], full contrast."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 3)
    img = (img - img.min()) / (img.max() - img.min())
    return (img * 255 + 0.5).astype(np.uint8)


def pan_then_cut() -> list[np.ndarray]:
    """CUT frames panning PAN px right over one picture, then N - CUT still frames of another."""
    big = texture(1, H, W + PAN * CUT)
    other = texture(2, H, W)
    return [np.ascontiguousarray(big[:, PAN * t : PAN * t + W]) for t in range(CUT)] + [other] * (N - CUT)


def write_clip(path, frames, *, audio=True, rotation=None, options=None, codec="libx264", tags=None, pix_fmt="yuv420p"):
    with av.open(str(path), "w", options=options or {}) as out:
        vs = out.add_stream(codec, rate=RATE)
        vs.height, vs.width = frames[0].shape[:2]
        vs.pix_fmt = pix_fmt
        vs.codec_context.options = {"crf": "12", "preset": "ultrafast"}
        for name, value in (tags or {}).items():
            setattr(vs.codec_context, name, value)
        if rotation is not None:
            vs.set_display_rotation(rotation)
        if audio:
            a = out.add_stream("aac", rate=16000)
            a.layout = "mono"
        for i, f in enumerate(frames):
            fr = av.VideoFrame.from_ndarray(f, format="rgb24")
            fr.pts = i
            out.mux(vs.encode(fr))
        out.mux(vs.encode())
        if audio:
            t = np.arange(int(16000 * len(frames) / RATE)) / 16000
            af = av.AudioFrame.from_ndarray((0.3 * np.sin(2 * np.pi * 440 * t))[None].astype(np.float32),
                                            format="fltp", layout="mono")
            af.sample_rate, af.pts = 16000, 0
            out.mux(a.encode(af))
            out.mux(a.encode())
    return path


def probe(path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = list(c.decode(v))
        info = {
            "frames": len(frames), "size": (v.codec_context.width, v.codec_context.height), "rate": v.average_rate,
            "pts": [round(float(f.pts * f.time_base), 4) for f in frames], "rotation": frames[0].rotation,
            "audio": [(a.codec_context.name, a.sample_rate) for a in c.streams.audio],
        }
        rgb = [f.to_ndarray(format="rgb24") for f in frames]
    with av.open(str(path)) as c:
        info["audio_packets"] = sum(1 for p in c.demux(audio=0) if p.size) if info["audio"] else 0
    return info, rgb


def lightness(frames) -> np.ndarray:
    x = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255
    return color.denormalize_l(color.rgb_to_l(x)).numpy()


def chroma(frames) -> np.ndarray:
    x = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255
    return color.denormalize_ab(color.rgb_to_l_ab(x)[1]).numpy()


@pytest.fixture(scope="module")
def colorizer():
    torch.manual_seed(0)
    return Colorizer(create_model("baseline", width=4), render_size=32)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    return str(save_checkpoint(path, create_model("baseline", width=4), metrics={"psnr": 20.0}))


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    gray = [np.repeat(lightness_gray(f)[..., None], 3, axis=2) for f in pan_then_cut()]
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", gray, rotation=90)


def lightness_gray(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def video(*args):
    return main(["video", "-q", "--render-size", "32", *map(str, args)])


def test_round_trip_keeps_frames_size_rate_timestamps_rotation_and_audio(clip, model_path, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert video(clip, "-o", out, "--model", model_path) == 0
    assert "12 frames 64x48" in capsys.readouterr().out
    (src, src_rgb), (dst, dst_rgb) = probe(clip), probe(out)
    assert dst["frames"] == src["frames"] == N
    assert dst["size"] == src["size"] == (W, H)
    assert dst["rate"] == src["rate"] == RATE
    assert dst["pts"] == src["pts"]
    assert dst["rotation"] == src["rotation"] == 90
    assert dst["audio"] == src["audio"] == [("aac", 16000)]
    assert dst["audio_packets"] == src["audio_packets"] > 0
    # The colour goes on the frames' own luminance: L survives up to the codec's loss.
    assert np.abs(lightness(dst_rgb) - lightness(src_rgb)).mean() < 2.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # no temporary left


def test_webm_and_mkv_outputs_and_crf(clip, colorizer, tmp_path):
    small = colorize_video(clip, tmp_path / "a.mkv", colorizer, crf=40)
    big = colorize_video(clip, tmp_path / "b.mkv", colorizer, crf=5)
    assert small.frames == big.frames == N and small.audio_streams == 1
    assert (tmp_path / "a.mkv").stat().st_size < (tmp_path / "b.mkv").stat().st_size
    # Opus is what WebM carries; copying AAC into WebM fails with one clear line and leaves nothing.
    with pytest.raises(VideoError, match="cannot copy aac audio"):
        colorize_video(clip, tmp_path / "c.webm", colorizer)
    assert not (tmp_path / "c.webm").exists()
    silent = write_clip(tmp_path / "silent.mp4", pan_then_cut()[:4], audio=False)
    result = colorize_video(silent, tmp_path / "d.webm", colorizer)
    info, _ = probe(tmp_path / "d.webm")
    assert result.frames == info["frames"] == 4 and info["audio"] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mkv", "b.mkv", "d.webm", "silent.mp4"]


def test_colour_tags_and_pixel_aspect_are_kept(colorizer, tmp_path):
    tags = {"colorspace": 1, "color_primaries": 1, "color_trc": 1, "sample_aspect_ratio": Fraction(4, 3)}  # BT.709
    src = write_clip(tmp_path / "hd.mp4", pan_then_cut()[:3], audio=False, tags=tags)
    colorize_video(src, tmp_path / "out.mp4", colorizer)
    with av.open(str(tmp_path / "out.mp4")) as c:
        ctx = c.streams.video[0].codec_context
        assert {name: getattr(ctx, name) for name in tags} == tags


def test_odd_sizes_are_kept(colorizer, tmp_path):
    frames = [np.ascontiguousarray(f[:47, :63]) for f in pan_then_cut()[:3]]
    src = write_clip(tmp_path / "odd.mkv", frames, audio=False, pix_fmt="yuv444p")
    result = colorize_video(src, tmp_path / "out.mp4", colorizer)
    info, _ = probe(tmp_path / "out.mp4")
    assert (result.width, result.height) == info["size"] == (63, 47) and info["frames"] == 3


def render_pan_then_cut(noise: float, seed: int = 0):
    """Render-size L [1,h,w] per frame and a predicted ab [2,h,w]: the true ab plus independent noise (flicker)."""
    rng = np.random.default_rng(seed)
    frames = pan_then_cut()
    x = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255
    L, ab = color.rgb_to_l_ab(x)
    noisy = ab + noise * torch.from_numpy(rng.standard_normal(ab.shape).astype(np.float32))
    return L, ab, noisy


def pan_flicker(ab: torch.Tensor) -> float:
    """Mean |ab_t(x) - ab_{t-1}(x + PAN)| over the pan frames, 8 px margins left out (exact alignment)."""
    cur, prev = ab[1:CUT, :, 8:-8, 8 : W - PAN - 8], ab[: CUT - 1, :, 8:-8, 8 + PAN : W - 8]
    return float((cur - prev).abs().mean())


def test_flow_propagation_cuts_flicker_on_a_pan_and_resets_at_the_cut():
    L, truth, pred = render_pan_then_cut(noise=0.05)
    filt = make_filter("auto")
    out, confidence = [], []
    for t in range(N):
        out.append(filt.step(L[t], pred[t]))
        confidence.append(filt.confidence)
    out = torch.stack(out)
    assert filt.cuts == [CUT]
    assert pan_flicker(out) < 0.4 * pan_flicker(pred)
    # Averaging along the motion also brings the colours closer to the truth, away from the edges.
    inner = (slice(1, CUT), slice(None), slice(8, -8), slice(8, -8))
    assert (out - truth)[inner].abs().mean() < (pred - truth)[inner].abs().mean()
    assert torch.equal(out[CUT], pred[CUT])  # a cut switches at once: its frame-by-frame colours
    assert 0.3 < min(confidence[1:CUT]) <= 1.0 and confidence[0] == confidence[CUT] == 0.0


def test_moving_average_smears_across_the_cut_and_off_changes_nothing():
    L, _, pred = render_pan_then_cut(noise=0.05)
    avg, off = MovingAverage(), make_filter("off")
    out_avg = torch.stack([avg.step(L[t], pred[t]) for t in range(N)])
    out_off = torch.stack([off.step(L[t], pred[t]) for t in range(N)])
    assert torch.equal(out_off, pred)
    # The first frame after the cut still carries most of the previous scene's colours.
    assert (out_avg[CUT] - pred[CUT]).abs().mean() > 0.5 * (pred[CUT - 1] - pred[CUT]).abs().mean()


def test_film_flicker_is_not_a_cut_and_new_objects_take_their_prediction():
    L, _, pred = render_pan_then_cut(noise=0.0)
    filt = FlowPropagation()
    brighter = (L[:CUT] + 0.08 * (torch.arange(CUT) % 2).view(-1, 1, 1, 1)).clamp(-1, 1)  # +4 L every other frame
    outs, confidence = [], []
    for t in range(CUT):
        outs.append(filt.step(brighter[t], pred[t]))
        confidence.append(filt.confidence)
    assert filt.cuts == [] and min(confidence[1:]) > 0.3
    # A bright square appears in the next frame: there the previous colours are not trusted.
    Lnew = brighter[CUT - 1].clone()
    Lnew[:, 10:30, 20:40] = 0.9
    ab_new = torch.full_like(pred[0], 0.3)
    shown = filt.step(Lnew, ab_new)
    assert (shown[:, 14:26, 24:36] - 0.3).abs().max() < 0.02
    assert outs[-1].shape == shown.shape == (2, H, W)


def test_colorize_frames_streams_and_keeps_the_frames_luminance(colorizer):
    consumed = []

    def source():
        for i, f in enumerate(pan_then_cut()):
            consumed.append(i)
            yield lightness_gray(f)  # gray [H,W] frames are accepted

    it = colorize_frames(source(), colorizer, batch_size=3)
    first = next(it)
    assert len(consumed) == 3  # lazily: one batch read, not the whole clip
    rest = list(it)
    assert len(rest) == N - 1 and len(consumed) == N
    assert first.shape == (H, W, 3) and first.dtype == np.uint8
    gray = [np.repeat(lightness_gray(f)[..., None], 3, axis=2) for f in pan_then_cut()]
    assert np.abs(lightness([first, *rest]) - lightness(gray)).max() < 1.0


def test_frame_by_frame_equals_the_photo_pipeline(colorizer):
    colour = pan_then_cut()[:3]
    gray = [np.repeat(lightness_gray(f)[..., None], 3, axis=2) for f in colour]
    for frames in (gray, colour):  # gray frames take the gray-levels path, colour ones rgb_to_l
        out = list(colorize_frames(frames, colorizer, temporal="off", batch_size=2))
        for got, frame in zip(out, frames):
            assert np.abs(got.astype(int) - colorizer.colorize_array(frame).astype(int)).max() <= 1


def test_temporal_auto_lowers_flicker_of_a_real_model_on_a_pan(colorizer):
    gray = [np.repeat(lightness_gray(f)[..., None], 3, axis=2) for f in pan_then_cut()]
    flicker = {}
    for mode in ("off", "auto"):
        ab = torch.from_numpy(chroma(list(colorize_frames(gray, colorizer, temporal=mode))))
        flicker[mode] = pan_flicker(ab)
    assert flicker["auto"] < flicker["off"]


def test_bad_inputs_give_one_line_and_leave_nothing(clip, model_path, tmp_path, capsys):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    sound = tmp_path / "sound.m4a"
    with av.open(str(sound), "w") as out:
        a = out.add_stream("aac", rate=16000)
        a.layout = "mono"
        af = av.AudioFrame.from_ndarray(np.zeros((1, 4000), np.float32), format="fltp", layout="mono")
        af.sample_rate, af.pts = 16000, 0
        out.mux(a.encode(af))
        out.mux(a.encode())
    # moov first (faststart), then cut in the middle of the frame data: opens, but frames are missing
    whole = write_clip(tmp_path / "whole.mp4", pan_then_cut(), audio=False, options={"movflags": "faststart"})
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])
    headless = tmp_path / "headless.mp4"  # moov at the end, cut off
    headless.write_bytes(clip.read_bytes()[:2000])
    cases = {
        text: "not a video", sound: "no video stream", cut: "truncated", headless: "not a video",
        tmp_path / "missing.mp4": "no such file",
    }
    before = sorted(p.name for p in tmp_path.iterdir())
    for src, reason in cases.items():
        assert video(src, "-o", tmp_path / "out.mp4", "--model", model_path) == 2
        err = capsys.readouterr().err
        assert reason in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert video(clip, "-o", tmp_path / "out.mp4", "--model", model_path, "--codec", "nosuchcodec") == 2
    assert "unknown video encoder" in capsys.readouterr().err
    assert video(clip, "-o", tmp_path / "out.xyz", "--model", model_path) == 2
    assert "out.xyz: cannot write this kind of file" in capsys.readouterr().err
    assert video(clip, "-o", clip, "--model", model_path, "--overwrite") == 2
    assert "would overwrite an input" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_existing_output_is_kept_unless_overwrite(clip, model_path, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"precious")
    assert video(clip, "-o", out, "--model", model_path) == 2
    assert "exists" in capsys.readouterr().err and out.read_bytes() == b"precious"
    assert video(clip, "-o", out, "--model", model_path, "--overwrite", "--temporal", "off") == 0
    assert probe(out)[0]["frames"] == N


def test_an_interrupted_run_leaves_no_file_at_out(clip, colorizer, tmp_path, monkeypatch):
    calls = []
    real = video_mod._FrameColorizer.compose

    def compose_then_interrupt(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(video_mod._FrameColorizer, "compose", compose_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        colorize_video(clip, tmp_path / "new.mp4", colorizer, batch_size=2)
    (tmp_path / "kept.mp4").write_bytes(b"old")
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        colorize_video(clip, tmp_path / "kept.mp4", colorizer, batch_size=2, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.mp4"]
    assert (tmp_path / "kept.mp4").read_bytes() == b"old"


def test_cli_offers_the_library_modes(capsys):
    with pytest.raises(SystemExit):
        main(["video", "--help"])
    help_text = capsys.readouterr().out
    assert all(mode in help_text for mode in MODES) and "--crf" in help_text and "--overwrite" in help_text
    with pytest.raises(ValueError, match="temporal mode"):
        make_filter("sideways")


@pytest.mark.slow
def test_a_killed_process_leaves_no_file_at_out(model_path, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    frames = pan_then_cut()
    src = write_clip(tmp_path / "long.mp4", [frames[i % N] for i in range(1500)], audio=False)
    out = tmp_path / "out" / "result.mp4"
    out.parent.mkdir()
    env = {**os.environ, "PYTHONPATH": str(Path(video_mod.__file__).parents[2])}
    cmd = [sys.executable, "-m", "chromatize", "video", str(src), "-o", str(out), "--model", model_path,
           "--render-size", "32", "--backend", "torch", "-q"]
    for sig, code in ((signal.SIGINT, 130), (signal.SIGKILL, -signal.SIGKILL)):
        # SIGINT at its default in the child whatever an earlier test left in this process (an ignored SIGINT is
        # inherited, and Python then never raises KeyboardInterrupt): the test is about the CLI's Ctrl-C
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 120
        while not any(out.parent.iterdir()) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # inside the frame loop, writing the temporary file
        proc.send_signal(sig)
        assert proc.wait(60) == code, proc.stderr.read().decode()
        assert not out.exists()
        left = [p.name for p in out.parent.iterdir()]
        if sig == signal.SIGINT:
            assert left == []  # the temporary file is removed on the way out
        else:  # kill -9 cannot clean up: a hidden temporary may remain, never a file at OUT
            assert all(name.startswith(".result.") and ".part" in name for name in left)
            for name in left:
                (out.parent / name).unlink()
