"""The book as a person opens it: built once with warnings as errors, then read as HTML and in a
headless Chromium (figures load, equations are typeset by the book's own MathJax)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from saccader import book as book_mod
from saccader import paths

pytestmark = pytest.mark.book


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs, self.scripts = [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img" and a.get("src"):
            self.imgs.append(a["src"])
        if tag == "script" and a.get("src"):
            self.scripts.append(a["src"])


def _parse(page: Path) -> _Tags:
    tags = _Tags()
    tags.feed(page.read_text(encoding="utf-8"))
    return tags


@pytest.fixture(scope="session")
def html_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("book") / "book-tiny"
    cmd = [sys.executable, "-m", "saccader", "book", "--preset", "tiny", "--output", str(out)]
    proc = subprocess.run(cmd, cwd=paths.REPO_ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, f"book build failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    html = out / "_build" / "html"
    assert (html / "index.html").exists()
    return html


# notebook pages made of tables only (every other notebook page must show a figure)
TABLE_PAGES = {"environment", "results_table", "evaluation"}


def _pages(html: Path, figures_only: bool = False) -> list[Path]:
    stems = [Path(f).stem for f in map(str, book_mod.toc_notebooks(paths.book_dir()))]
    return [html / (s + ".html") for s in stems if not (figures_only and s in TABLE_PAGES)]


def test_every_chapter_is_built(html_dir):
    for page in _pages(html_dir) + [html_dir / "index.html", html_dir / "method.html"]:
        assert page.exists(), f"{page.name} missing from the built book"


def test_notebook_pages_show_their_figures(html_dir):
    for page in _pages(html_dir, figures_only=True):
        imgs = _parse(page).imgs
        figures = [src for src in imgs if not src.startswith(("data:", "http")) and "_static" not in src]
        assert figures, f"{page.name} shows no figure"
        for src in figures:
            assert (page.parent / src).exists(), f"{page.name}: broken image {src}"


def test_mathjax_is_served_by_the_book_not_a_cdn(html_dir):
    scripts = _parse(html_dir / "method.html").scripts
    mathjax = [s for s in scripts if "mathjax" in s.lower()]
    assert mathjax, "method.html loads no MathJax"
    for src in mathjax:
        assert not src.startswith(("http:", "https:", "//")), f"MathJax from the network: {src}"
        assert (html_dir / src.split("?")[0]).exists(), f"MathJax script {src} missing from the build"


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; `make test` installs it (apt-get install chromium)")
        pytest.skip("chromium not installed (run `make chromium`)")
    return exe


def _rendered_dom(page: Path, tmp_path: Path) -> str:
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
           "--virtual-time-budget=15000", "--run-all-compositor-stages-before-draw", "--dump-dom", page.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_equations_are_typeset_in_a_browser(html_dir, tmp_path):
    dom = _rendered_dom(html_dir / "method.html", tmp_path)
    assert "<mjx-container" in dom, "MathJax did not typeset any equation"
    body = re.sub(r"<script.*?</script>", "", dom, flags=re.S)
    assert "\\(" not in body and "\\[" not in body and "$$" not in body, "raw TeX left on the page"


_PROBE = """<script>window.addEventListener('load', () => {
  const imgs = [...document.images];
  const broken = imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute('src'));
  document.body.setAttribute('data-probe-images', String(imgs.length));
  document.body.setAttribute('data-probe-broken', JSON.stringify(broken));
});</script>"""


def test_figures_load_in_a_browser(html_dir, tmp_path):
    """Each notebook page, opened in Chromium, has images and none of them fails to load."""
    for page in _pages(html_dir, figures_only=True):
        probe = page.with_name("_probe_" + page.name)
        probe.write_text(page.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>"), encoding="utf-8")
        try:
            dom = _rendered_dom(probe, tmp_path)
        finally:
            probe.unlink()
        count = re.search(r'data-probe-images="(\d+)"', dom)
        broken = re.search(r'data-probe-broken="([^"]*)"', dom)
        assert count and broken, f"{page.name}: the page did not finish loading in Chromium"
        assert int(count.group(1)) > 0, f"{page.name}: no image on the page"
        assert broken.group(1).replace("&quot;", '"') == "[]", f"{page.name}: broken images {broken.group(1)}"
