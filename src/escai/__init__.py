"""ESCAI: watch and understand autonomous LLM agents.

This module is the public SDK surface; everything else lives in subpackages.
"""

from escai._version import __version__

__all__ = ["__version__"]
