"""Optional engines are imported only when asked for, with an error that says what to install."""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the pip extra."""


def require(module: str, *, extra: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{what} needs {module.split('.')[0]}, which is not installed "
            f"({exc}); install it with: pip install 'curvetune[{extra}]'"
        ) from exc
