"""One adapter per framework; see base.py for the contract."""
