"""fer_kit: a course and reproduction kit for Xu & Stirenko's GAN-augmented facial expression
recognition. Modules follow the paper: ``data`` → ``synth`` → ``gan`` → ``augment`` →
``classify`` → ``experiment``/``report``; ``viz`` and ``widgets`` serve the notebooks."""

__version__ = "0.1.0"
