"""sitewatch: satellite imagery as evidence about ports, naval piers and training grounds."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sitewatch")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
