"""The real data in ../shared/data (skipped when absent)."""

from __future__ import annotations

import pytest

from fer_kit import data

pytestmark = pytest.mark.realdata

# From ../shared/data/README.md
CK_COUNTS = {"anger": 135, "contempt": 54, "disgust": 177, "fear": 75, "happy": 207, "sadness": 84, "surprise": 249}
FER_TRAIN = {"anger": 3995, "disgust": 436, "fear": 4097, "happy": 7215, "neutral": 4965, "sadness": 4830,
             "surprise": 3171}
FER_PUBLIC = {"anger": 467, "disgust": 56, "fear": 496, "happy": 895, "neutral": 607, "sadness": 653,
              "surprise": 415}


def test_ckplus48(shared_data):
    faces = data.load(shared_data / "ckplus48", progress=False)
    assert len(faces) == 981 and faces.n_subjects == 118
    assert dict(zip(faces.class_names, faces.class_counts().tolist())) == CK_COUNTS
    i = int(faces.where(label="contempt")[0])
    assert faces.provenance[i].startswith("contempt/") and faces.subjects[i] == faces.provenance[i][9:13]
    folds = data.subject_kfold(faces, k=5)
    assert all(data.subject_overlap(faces, f) == set() for f in folds)


def test_fer2013(shared_data):
    faces = data.load(shared_data / "fer2013", progress=False)
    assert faces.split_names == ("Training", "PublicTest")
    for split, expected in (("Training", FER_TRAIN), ("PublicTest", FER_PUBLIC)):
        idx = faces.where(split=split)
        assert len(idx) == sum(expected.values())
        assert dict(zip(faces.class_names, faces.class_counts(idx).tolist())) == expected
    # labels follow the folders: every image's file sits in its class's folder
    folder = {"anger": "angry", "sadness": "sad"}
    for i in range(0, len(faces), 997):
        name = faces.class_names[faces.labels[i]]
        assert faces.provenance[i].split("/")[1] == folder.get(name, name)
    assert data.ratio(faces, "happy", "disgust", faces.where(split="Training")) == pytest.approx(16.5, abs=0.1)
    split = data.fer2013_official(faces, missing_private="holdout")
    assert len(split.test) == 3589 and "PrivateTest absent" in split.note


def test_named_loading_from_the_data_folder(shared_data):
    faces = data.load("ckplus48", data_dir=shared_data, progress=False)
    assert len(faces) == 981 and faces.name == "ckplus48"
