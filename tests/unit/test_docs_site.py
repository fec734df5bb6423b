"""The README is a one-screen front page into the mkdocs site in docs/: the two set-up commands
on top, and every page it or the site's navigation names exists (and every page is reachable)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def nav_pages() -> list[str]:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    return [page for entry in config["nav"] for page in entry.values()]


def test_readme_opens_with_exactly_the_two_setup_commands() -> None:
    text = README.read_text(encoding="utf-8")
    first_block = re.search(r"```\n(.*?)```", text, re.S)
    assert first_block and text.index("```") < text.index("\n## ")
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["make demo", "make test"]


def test_readme_fits_one_screen_and_links_only_existing_pages() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 60
    links = re.findall(r"\]\((docs/[^)#]+)", text)
    assert links, "the README links into docs/"
    assert [link for link in links if not (ROOT / link).is_file()] == []


def test_every_docs_page_is_in_the_navigation_and_every_nav_entry_exists() -> None:
    pages = nav_pages()
    assert sorted(pages) == sorted(p.name for p in DOCS.glob("*.md"))
    assert pages[0] == "index.md"
