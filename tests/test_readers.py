"""Readers, layout detection, the cache, and the errors bad input gets."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import face, make_class_tree, write_png
from PIL import Image

from fer_kit import data
from fer_kit.data import DataError, DataWarning
from fer_kit.data import readers as readers_mod


def _csv(path: Path, rows: list[tuple], header: str = "emotion,pixels,Usage") -> Path:
    lines = [header] + [",".join(str(v) for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _pixels(seed: int) -> str:
    return " ".join(map(str, face(seed).ravel()))


def _cached_files() -> list[Path]:
    import os

    return list((Path(os.environ["FER_KIT_CACHE"]) / "arrays").glob("*.npz"))


# ------------------------------------------------------------------ fer2013.csv
def test_fer2013_csv_reads_labels_splits_and_rows(tmp_path):
    rows = [(3, _pixels(1), "Training"), (1, _pixels(2), "PublicTest"), (6, _pixels(3), "PrivateTest")]
    faces = data.load(_csv(tmp_path / "fer2013.csv", rows), progress=False)
    assert faces.class_names == data.FER2013_CLASSES
    assert faces.labels.tolist() == [3, 1, 6]
    assert faces.splits.tolist() == ["Training", "PublicTest", "PrivateTest"]
    assert faces.provenance.tolist() == ["fer2013.csv:2", "fer2013.csv:3", "fer2013.csv:4"]
    assert np.array_equal(faces.images[1], face(2))
    assert not faces.has_subjects
    split = data.fer2013_official(faces)
    assert (split.train.tolist(), split.val.tolist(), split.test.tolist()) == ([0], [1], [2])


def test_fer2013_csv_bad_rows_are_all_named_and_nothing_is_cached(tmp_path):
    short = " ".join(["7"] * 2303)
    letters = _pixels(5).replace("7", "x", 1) if "7" in _pixels(5) else "x " + " ".join(["1"] * 2303)
    rows = [
        (0, _pixels(1), "Training"),
        (0, short, "Training"),              # line 3: wrong pixel count
        (2, letters, "Training"),            # line 4: non-numeric pixel
        (9, _pixels(2), "Training"),         # line 5: label out of range
        ("happy", _pixels(3), "Training"),   # line 6: label not an integer
        (1, " ".join(["300"] * 2304), "Training"),  # line 7: pixel > 255
        (1, _pixels(4), "Validation"),       # line 8: unknown Usage
    ]
    path = _csv(tmp_path / "fer2013.csv", rows)
    before = set(_cached_files())
    with pytest.raises(DataError) as err:
        data.load(path, progress=False)
    msg = str(err.value)
    assert str(path) in msg and "6 bad row(s)" in msg
    assert "line 3: 2303 pixel values, expected 2304" in msg
    assert "line 4: pixel" in msg and "expected an integer 0-255" in msg
    assert "line 5: emotion 9 is outside 0-6" in msg
    assert "line 6: emotion 'happy' is not an integer" in msg
    assert "line 7: pixel 0 is 300" in msg
    assert "line 8: Usage 'Validation'" in msg
    assert set(_cached_files()) == before  # nothing half-written

    with pytest.warns(DataWarning, match="skipped 6 bad row"):
        faces = data.load(path, skip_bad_rows=True, progress=False)
    assert len(faces) == 1 and any("skipped 6 bad row" in n for n in faces.notes)


@pytest.mark.parametrize("content, expected", [
    ("", "empty file"),
    ("label,image\n1,2\n", "lacks the columns 'emotion' and 'pixels'"),
])
def test_fer2013_csv_bad_header(tmp_path, content, expected):
    path = tmp_path / "fer2013.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=expected):
        data.load(path, progress=False)


# ------------------------------------------------------------------ folder trees
def test_ckplus48_folders_give_subjects_and_fixed_class_order(tmp_path):
    root = make_class_tree(tmp_path / "ck", classes=("surprise", "anger", "contempt", "disgust", "fear",
                                                     "happy", "sadness"))
    faces = data.load(root, progress=False)
    assert faces.class_names == data.CKPLUS_CLASSES
    assert faces.subjects[0].startswith("S1") and faces.has_subjects
    assert set(faces.splits) == {""}
    assert faces.provenance[0].endswith(".png")


def test_kaggle_fer_folders_recover_usage_from_file_names(tmp_path):
    root = tmp_path / "fer"
    classes = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
    for i, c in enumerate(classes):
        write_png(root / "train" / c / f"Training_{i}.jpg", face(i))
        write_png(root / "test" / c / f"PublicTest_{i}.jpg", face(10 + i))
        write_png(root / "test" / c / f"PrivateTest_{i}.jpg", face(20 + i))
    faces = data.load(root, progress=False)
    assert faces.class_names == data.FER2013_CLASSES  # angry -> anger, sad -> sadness, FER order
    assert faces.split_names == ("Training", "PublicTest", "PrivateTest")
    assert [int(n) for n in faces.class_counts()] == [3] * 7
    split = data.fer2013_official(faces)
    assert set(faces.splits[split.test]) == {"PrivateTest"}


def test_folder_without_usage_prefixes_uses_folder_names(tmp_path):
    root = tmp_path / "fer"
    for split in ("train", "test"):
        make_class_tree(root / split, classes=("happy", "sad"), ckplus_names=False)
    faces = data.load(root, progress=False)
    assert faces.split_names == ("train", "test")


def test_missing_split_is_a_clear_error(tmp_path):
    root = tmp_path / "fer"
    for i, c in enumerate(("happy", "sad")):
        write_png(root / "test" / c / f"PublicTest_{i}.jpg", face(i))
    faces = data.load(root, progress=False)
    with pytest.raises(DataError, match="missing split 'Training'"):
        data.fer2013_official(faces)


def test_missing_private_test_raises_or_holds_out(tmp_path):
    root = tmp_path / "fer"
    for i, c in enumerate(("happy", "sad")):
        for k in range(10):
            write_png(root / "train" / c / f"Training_{i}{k}.jpg", face(i * 10 + k))
        write_png(root / "test" / c / f"PublicTest_{i}.jpg", face(100 + i))
    faces = data.load(root, progress=False)
    with pytest.raises(DataError, match="missing split 'PrivateTest'.*missing_private='holdout'"):
        data.fer2013_official(faces)
    split = data.fer2013_official(faces, missing_private="holdout", val_fraction=0.2)
    assert split.protocol == "fer2013-holdout-val-publictest" and "PrivateTest absent" in split.note
    assert set(faces.splits[split.val]) == {"Training"} and set(faces.splits[split.test]) == {"PublicTest"}
    assert not set(split.train) & set(split.val)


def test_corrupt_and_truncated_images_are_named_and_nothing_is_cached(tmp_path):
    root = make_class_tree(tmp_path / "ck")
    good = root / "happy" / "S100_002_00000001.png"
    blob = good.read_bytes()
    truncated = root / "happy" / "S109_002_00000001.png"
    truncated.write_bytes(blob[: len(blob) // 2])
    garbage = root / "anger" / "S109_001_00000001.jpg"
    garbage.write_bytes(b"not an image at all")
    before = set(_cached_files())
    with pytest.raises(DataError) as err:
        data.load(root, progress=False)
    msg = str(err.value)
    assert "2 image(s) could not be read" in msg
    assert str(truncated) in msg and str(garbage) in msg
    assert set(_cached_files()) == before


def test_colour_16bit_and_wrong_sizes_are_converted_and_counted(tmp_path):
    root = make_class_tree(tmp_path / "ck", per_class=2)
    rgb = np.stack([face(1)] * 3, axis=-1)
    write_png(root / "happy" / "S200_002_00000001.png", rgb)
    rgba = np.concatenate([rgb, np.full((48, 48, 1), 255, np.uint8)], axis=-1)
    write_png(root / "happy" / "S201_002_00000001.png", rgba)
    deep = (face(2).astype(np.uint16) * 257)
    Image.fromarray(deep).save(root / "anger" / "S202_001_00000001.png")
    write_png(root / "anger" / "S203_001_00000001.png", face(3, size=96))
    write_png(root / "anger" / "S204_001_00000001.png", face(4, size=100))
    with pytest.warns(DataWarning) as record:
        faces = data.load(root, progress=False)
    messages = [str(w.message) for w in record if issubclass(w.category, DataWarning)]
    assert len(messages) == 1, messages  # one warning for the whole load
    msg = messages[0]
    for kind in ("RGB→gray", "RGBA→gray", "16-bit→8-bit"):
        assert f"1 converted {kind}" in msg
    assert "2 resized to 48×48 (" in msg and "1 of 96×96" in msg and "1 of 100×100" in msg
    i = int(np.flatnonzero(faces.provenance == "anger/S202_001_00000001.png")[0])
    assert np.abs(faces.images[i].astype(int) - face(2)).max() <= 1  # 16-bit scaled back exactly
    j = int(np.flatnonzero(faces.provenance == "happy/S200_002_00000001.png")[0])
    assert np.abs(faces.images[j].astype(int) - face(1)).max() <= 1  # gray RGB stays the same
    assert faces.notes and faces.images.shape[1:] == (48, 48)


def test_unknown_class_folder_is_named(tmp_path):
    root = make_class_tree(tmp_path / "ck")
    make_class_tree(tmp_path / "ck", classes=("sleepy",))
    with pytest.raises(DataError, match=r"unknown class folder\(s\) \['sleepy'\]"):
        data.load(root, progress=False)
    faces = data.load(root, class_names=("anger", "happy", "sleepy"), progress=False)
    assert faces.class_names == ("anger", "happy", "sleepy")


def test_empty_class_folder_is_named(tmp_path):
    root = make_class_tree(tmp_path / "ck")
    (root / "fear").mkdir()
    with pytest.raises(DataError, match=r"(?s)hold no images.*ck/fear"):
        data.load(root, progress=False)


def test_two_folders_for_one_class(tmp_path):
    root = make_class_tree(tmp_path / "ck", classes=("anger", "angry"))
    with pytest.raises(DataError, match="both mean class 'anger'"):
        data.load(root, progress=False)


def test_unrecognised_layout(tmp_path):
    (tmp_path / "stuff" / "misc").mkdir(parents=True)
    (tmp_path / "stuff" / "readme.txt").write_text("hi")
    with pytest.raises(DataError, match="no data set layout recognised"):
        data.load(tmp_path / "stuff", progress=False)


# ------------------------------------------------------------------ zips
def test_zip_of_a_layout_loads_like_the_folder(tmp_path):
    root = make_class_tree(tmp_path / "CK+48", classes=("anger", "happy", "fear"))
    archive = tmp_path / "ckplus.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(root.rglob("*.png")):
            zf.write(p, Path("CK+48") / p.relative_to(root))  # Kaggle zips wrap a top folder
    a, b = data.load(root, progress=False), data.load(archive, progress=False)
    assert a.fingerprint == b.fingerprint and len(b) == 9


def test_empty_and_wrong_zips(tmp_path):
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w"):
        pass
    with pytest.raises(DataError, match="the zip is empty"):
        data.load(empty)
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"PK? definitely not a zip")
    with pytest.raises(DataError, match="not a zip archive"):
        data.load(fake)
    wrong = tmp_path / "wrong.zip"
    with zipfile.ZipFile(wrong, "w") as zf:
        zf.writestr("notes/readme.txt", "nothing here")
        zf.writestr("other/data.bin", b"\x00\x01")
    with pytest.raises(DataError, match="no data set layout recognised"):
        data.load(wrong)


# ------------------------------------------------------------------ original CK+
def _astronaut_gray() -> np.ndarray:
    skimage_data = pytest.importorskip("skimage.data")
    rgb = skimage_data.astronaut()  # public-domain NASA photo shipped with scikit-image
    return (rgb @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)


def test_ckplus_original_release_is_face_cropped(tmp_path):
    photo = _astronaut_gray()
    root = tmp_path / "CK+"
    for subject, seq, code in (("S005", "001", 3), ("S010", "002", 5)):
        for frame in range(1, 6):
            img = np.clip(photo.astype(int) + frame, 0, 255).astype(np.uint8)
            write_png(root / "cohn-kanade-images" / subject / seq / f"{subject}_{seq}_{frame:08d}.png", img)
        label = root / "Emotion" / subject / seq / f"{subject}_{seq}_00000005_emotion.txt"
        label.parent.mkdir(parents=True)
        label.write_text(f"   {code:.7e}\n")
    faces = data.load(root, progress=False)
    assert len(faces) == 6 and faces.class_names == data.CKPLUS_CLASSES
    assert faces.class_counts().tolist() == [0, 0, 3, 0, 3, 0, 0]  # codes 3 (disgust) and 5 (happy)
    assert sorted(set(faces.subjects)) == ["S005", "S010"]
    assert faces.provenance[0].endswith("00000003.png")  # the last three frames
    assert not any("no face found" in n for n in faces.notes)  # the cascade found the astronaut
    # the crop is the face, not the whole photo: it differs from a plain resize of the frame
    from fer_kit.preprocess import resize_face

    assert np.abs(faces.images[0].astype(int) - resize_face(photo)).mean() > 10


def test_ckplus_original_bad_label_is_named(tmp_path):
    root = tmp_path / "CK+"
    write_png(root / "cohn-kanade-images" / "S005" / "001" / "S005_001_00000001.png", face(1, 96))
    label = root / "Emotion" / "S005" / "001" / "S005_001_00000001_emotion.txt"
    label.parent.mkdir(parents=True)
    label.write_text("9.0\n")
    with pytest.raises(DataError, match="emotion code 9 is outside 1-7"):
        data.load(root, progress=False)


# ------------------------------------------------------------------ names, data folder, cache
def test_named_source_missing_says_where_and_what_to_download(tmp_path):
    with pytest.raises(DataError) as err:
        data.load("fer2013", data_dir=tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "fer2013") in msg and "msambare/fer2013" in msg and "fer2013.csv" in msg
    assert "synthetic" in msg


def test_named_source_found_under_env_data_folder(tmp_path, monkeypatch):
    make_class_tree(tmp_path / "ckplus48", classes=("anger", "happy"))
    monkeypatch.setenv("FER_KIT_DATA", str(tmp_path))
    faces = data.load("ckplus48", progress=False)
    assert faces.name == "ckplus48" and len(faces) == 6
    faces2, real = data.load_or_synthetic("ckplus48")
    assert real and faces2.fingerprint == faces.fingerprint


def test_second_load_comes_from_cache(tmp_path, monkeypatch):
    root = make_class_tree(tmp_path / "ck")
    first = data.load(root, progress=False)

    def boom(*a, **k):
        raise AssertionError("decoded again instead of using the cache")

    monkeypatch.setattr(readers_mod, "decode_image", boom)
    second = data.load(root, progress=False)
    assert second.fingerprint == first.fingerprint and np.array_equal(second.images, first.images)
    # touching the sources invalidates the cache
    write_png(root / "happy" / "S300_002_00000001.png", face(9))
    monkeypatch.undo()
    assert len(data.load(root, progress=False)) == len(first) + 1


def test_corrupt_cache_entry_is_rebuilt(tmp_path):
    root = make_class_tree(tmp_path / "ck")
    first = data.load(root, progress=False)
    for f in _cached_files():
        f.write_bytes(b"garbage")
    assert data.load(root, progress=False).fingerprint == first.fingerprint


def test_faceset_rejects_inconsistent_arrays():
    imgs = np.zeros((2, 48, 48), np.uint8)
    s = np.array(["", ""])
    with pytest.raises(DataError, match="labels outside"):
        data.FaceSet(imgs, np.array([0, 5]), ("a", "b"), s, s, s, "x")
    with pytest.raises(DataError, match="uint8 N×48×48"):
        data.FaceSet(np.zeros((2, 40, 40), np.uint8), np.array([0, 1]), ("a", "b"), s, s, s, "x")

