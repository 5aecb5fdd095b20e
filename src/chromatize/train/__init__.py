"""Training: config dataclasses (YAML + ``--set`` overrides), tasks (regression, pix2pix), the trainer, export.

Public entry point: :func:`chromatize.train.run.train`.
"""
