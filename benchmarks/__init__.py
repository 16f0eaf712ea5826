"""unitune benchmarks: framework comparison (``python -m benchmarks``) and adapter overhead (``overhead.py``).

Importing the package makes OpenBLAS/MKL run the same kernels on every x86-64 CPU with AVX2 (before
numpy loads), so a seed gives the same benchmark table on any such machine: see ``unitune.threads``.
"""

from unitune.threads import use_portable_kernels

use_portable_kernels()
