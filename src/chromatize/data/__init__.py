"""Training data: folder scanning and split, the preprocessing cache, augmentation, synthetic images.

Submodules are imported on use (``chromatize.data.folder``, ``.cache``, ``.dataset``, ``.synthetic``).
"""
