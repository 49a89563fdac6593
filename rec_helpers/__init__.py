"""rec_helpers: the logic behind the cross-domain interest-transfer notebook suite."""
from __future__ import annotations

__version__ = "0.1.0"
