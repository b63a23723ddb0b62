"""The pure core: journal events, run state, and the state machine that folds and decides."""

from __future__ import annotations

import lazy_loader

# The exports (declared in __init__.pyi) load on first use, so importing one module of
# this package does not import all the others: the CLI starts without what it won't use.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
