"""Offline renderer of Evidence-format report pages to static HTML (see docs/pages.md)."""

from .formats import FORMATS, format_value
from .page_source import RenderError
from .queries import PageQueryError
from .site import RenderedPage, render_site

__all__ = ["FORMATS", "PageQueryError", "RenderError", "RenderedPage", "format_value", "render_site"]
