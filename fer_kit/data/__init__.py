"""Data layer: one :func:`load` for every layout, protocols and pairing, statistics.

>>> from fer_kit import data
>>> faces = data.load("ckplus48")          # or "fer2013", "synthetic", a folder, a .zip, a .csv
>>> split = data.subject_split(faces)      # leak-free: subjects never cross train/val/test
>>> pairs = data.make_pairs(faces, split.train)
"""

from fer_kit.data.faceset import (
    CANONICAL_CLASSES,
    CKPLUS_CLASSES,
    FER2013_CLASSES,
    IMAGE_SIZE,
    DataError,
    FaceSet,
    canonical_class,
)
from fer_kit.data.load import find_named, load, load_or_synthetic
from fer_kit.data.readers import DataWarning, detect_layout
from fer_kit.data.splits import (
    LeakError,
    LeakWarning,
    Split,
    default_split,
    fer2013_official,
    make_pairs,
    random_kfold,
    random_split,
    subject_kfold,
    subject_overlap,
    subject_split,
)
from fer_kit.data.stats import (
    class_counts,
    duplicate_summary,
    find_duplicates,
    imbalance,
    intensity_stats,
    leak_report,
    ratio,
    sequence_ids,
    subject_expression_matrix,
)

__all__ = [
    "CANONICAL_CLASSES", "CKPLUS_CLASSES", "FER2013_CLASSES", "IMAGE_SIZE", "DataError", "DataWarning",
    "FaceSet", "LeakError", "LeakWarning", "Split", "canonical_class", "class_counts", "default_split", "detect_layout",
    "duplicate_summary", "fer2013_official", "find_duplicates", "find_named", "imbalance", "intensity_stats",
    "leak_report", "load", "load_or_synthetic", "make_pairs", "random_kfold", "random_split", "ratio", "sequence_ids",
    "subject_expression_matrix", "subject_kfold", "subject_overlap", "subject_split",
]
