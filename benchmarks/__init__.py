"""Reproducible speed and memory benchmarks of the engine against hand-written NumPy and PyTorch.

Run them with ``python -m benchmarks.run`` (or ``make bench``); ``--write`` rewrites
``benchmarks/RESULTS.md``. This package imports nothing at import time, so that ``run.py`` can
pin the BLAS thread count before NumPy is loaded.
"""
