"""fer_kit: a course and reproduction kit for Xu & Stirenko's GAN-augmented facial expression
recognition. Modules follow the paper: ``data`` → ``synth`` → ``gan`` → ``augment``/``quality`` →
``classify`` → ``experiment``/``report``; ``viz`` and ``widgets`` serve the notebooks."""

import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # TensorFlow's INFO lines drown the notebooks' output

__version__ = "0.1.0"
