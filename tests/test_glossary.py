"""Each metric is defined exactly once, and docs/glossary.md reflects the definitions."""

from collections import Counter

from orchestration.glossary import GLOSSARY_PAGE, collect, render


def test_every_metric_defined_once():
    names = Counter(name for blocks in collect().values() for name, _ in blocks)
    assert names, "no glossary blocks found"
    assert [n for n, c in names.items() if c > 1] == []


def test_glossary_page_is_current():
    assert GLOSSARY_PAGE.read_text(encoding="utf-8") == render(), "run: python -m orchestration.glossary"
