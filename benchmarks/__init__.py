"""unitune benchmarks: framework comparison (``python -m benchmarks``) and adapter overhead (``overhead.py``)."""
