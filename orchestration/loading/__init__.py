"""Raw loader: landing-zone exports (CSV/XLSX) → raw.<entity> per the raw export contract."""

from .errors import LoadError
from .loader import FileStats, LoadResult, load_entity

__all__ = ["FileStats", "LoadError", "LoadResult", "load_entity"]
