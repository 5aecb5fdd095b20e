"""scripts/build_corpus.py helpers: photo filters (size, gray, transparency, orientation) and deduplication."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from scripts_loader import load_script

bc = load_script("build_corpus")


def jpeg_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def test_decode_rejects_small_grayscale_and_transparent_images(rng):
    colour = (rng.random((200, 240, 3)) * 255).astype(np.uint8)
    gray = np.repeat(colour[..., :1], 3, axis=2)
    rgba = np.dstack([colour, np.zeros((200, 240), np.uint8)])
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, "PNG")

    def reason(data: bytes, min_side: int = 192) -> str | None:
        return bc.decode(bc.Photo("pkg", "1", "pkg", "x", data), min_side)

    assert reason(jpeg_bytes(colour)) is None
    assert reason(jpeg_bytes(colour), min_side=256) == "small"
    assert reason(jpeg_bytes(gray)) == "grayscale"
    assert reason(buf.getvalue()) == "transparent"
    assert reason(b"\xff\xd8\xff truncated").startswith("unreadable")


def test_deduplicate_keeps_largest_copy_and_distinct_pictures(rng):
    base = Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).resize((640, 480))
    other = Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).resize((640, 480))
    photos = []
    for name, image in [("small", base.resize((320, 240))), ("big", base), ("other", other)]:
        photo = bc.Photo("pkg", "1", "pkg", name, b"", image=image)
        photo.dhash = bc.dhash(image)
        photos.append(photo)
    kept, dropped = bc.deduplicate(photos, threshold=40)
    assert sorted(p.path for p in kept) == ["big", "other"]
    assert [(a.path, b.path) for a, b in dropped] == [("small", "big")]


def test_deduplicate_keeps_the_validation_copy_even_when_a_training_copy_is_larger(rng):
    base = Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).resize((640, 480))
    val_group = bc.VAL_GROUPS[0]
    photos = []
    for group, image in [(val_group, base.resize((320, 240))), ("some-train-package", base)]:
        photo = bc.Photo("pkg", "1", group, group, b"", image=image)
        photo.dhash = bc.dhash(image)
        photos.append(photo)
    kept, dropped = bc.deduplicate(photos, threshold=40)
    assert [p.group for p in kept] == [val_group]
    assert [(a.group, b.group) for a, b in dropped] == [("some-train-package", val_group)]


def test_decode_turns_photo_clockwise_by_its_angle(rng):
    array = (rng.random((200, 300, 3)) * 255).astype(np.uint8)
    array[:, :150] = (255, 0, 0)  # left half red: after a clockwise quarter turn it is the top half
    photo = bc.Photo("pkg", "1", "pkg", "x", jpeg_bytes(array), angle=90)
    assert bc.decode(photo, min_side=192) is None
    assert photo.image.size == (200, 300)
    top, bottom = np.asarray(photo.image)[:140].mean((0, 1)), np.asarray(photo.image)[160:].mean((0, 1))
    assert top[0] > 240 and top[1] < 20 and bottom[0] < 200
