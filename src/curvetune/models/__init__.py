"""Ready trainables, their data and their learning-rate schedules:
``objective="curvetune.models.mnist:train"``.

``train`` is imported on first use (``curvetune.models.train``), not here: it needs torch, and
importing this package must not, so that ``curvetune.models.schedules`` and
``curvetune.models.schedule_config`` (which a study uses to build and check schedules) stay
torch-free.
"""

from typing import TYPE_CHECKING, Any

from .data import MnistData, download_mnist, load_bundled, load_data, load_idx

if TYPE_CHECKING:
    from .mnist import train

__all__ = ["MnistData", "download_mnist", "load_bundled", "load_data", "load_idx", "train"]


def __getattr__(name: str) -> Any:
    """Import the torch trainable when ``train`` is first asked for (PEP 562)."""
    if name == "train":
        from .mnist import train

        return train
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
