"""The book as a person opens it: built once with warnings as errors, then read as HTML and in a
headless Chromium (figures load, equations are typeset by the book's own MathJax)."""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
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
    """The book built once per session; ``SACCADER_BOOK_HTML`` names an already built book's HTML
    folder instead (to read another build, e.g. an older one, with these tests)."""
    given = os.environ.get("SACCADER_BOOK_HTML")
    if given:
        assert (Path(given) / "index.html").exists(), f"SACCADER_BOOK_HTML={given} holds no index.html"
        return Path(given)
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


# ------------------------------------------------------------------------------------------------
# the book as a reader sees it: a 1400-px-wide window
# ------------------------------------------------------------------------------------------------

WINDOW = (1400, 900)

_LAYOUT_PROBE = """<script>window.addEventListener('load', () => setTimeout(() => {
  const content = document.querySelector('main article') || document.querySelector('article') || document.body;
  const right = content.getBoundingClientRect().right + 1;
  const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ':' + (e.textContent || '').trim().slice(0, 60);
  const wide = [];
  const boxes = [...content.querySelectorAll('table'), ...content.querySelectorAll('table tr > :last-child'),
                 ...content.querySelectorAll('mjx-container > mjx-math'), ...content.querySelectorAll('img'),
                 ...content.querySelectorAll('pre')];
  for (const e of boxes) {
    const r = e.getBoundingClientRect();
    if (r.width > 0 && r.right > right) wide.push(name(e) + ' (right edge ' + Math.round(r.right) + ' > ' + Math.round(right) + ')');
  }
  // a box that scrolls sideways hides what runs past its right edge
  for (const e of content.querySelectorAll('*')) {
    if (e.getClientRects().length === 0 || e.closest('details:not([open])') || e.closest('mjx-container')) continue;
    const style = getComputedStyle(e);
    if (style.display.startsWith('inline')) continue;  // inline math clips its own glyph boxes
    const ox = style.overflowX;
    if ((ox === 'auto' || ox === 'scroll' || ox === 'hidden') && e.scrollWidth > e.clientWidth + 1)
      wide.push(name(e) + ' (scrolls: ' + e.scrollWidth + ' > ' + e.clientWidth + ')');
  }
  const inputs = [...document.querySelectorAll('.cell_input')];
  const folded = e => { const d = e.closest('details'); return d !== null && !d.open; };
  const shown = inputs.filter(e => !folded(e)).map(name);
  const out = document.createElement('pre');
  out.id = 'probe-layout';
  out.setAttribute('data-scroll-width', String(document.documentElement.scrollWidth));
  out.setAttribute('data-inner-width', String(window.innerWidth));
  out.setAttribute('data-wide', JSON.stringify(wide));
  out.setAttribute('data-inputs', String(inputs.length));
  out.setAttribute('data-inputs-shown', JSON.stringify(shown));
  out.setAttribute('data-content-width', String(Math.round(content.getBoundingClientRect().width)));
  const imgs = [...document.images];
  out.setAttribute('data-images', String(imgs.length));
  out.setAttribute('data-broken', JSON.stringify(imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute('src'))));
  out.textContent = document.body.innerText;
  document.body.appendChild(out);
}, 1500));</script>"""


@dataclass
class Seen:
    """What the probe saw on one page."""
    scroll_width: int
    inner_width: int
    wide: list
    inputs: int
    inputs_shown: list
    images: int
    broken: list
    text: str


def _probe(page: Path, profile: Path) -> Seen:
    probe = page.with_name("_layout_" + page.name)
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", _LAYOUT_PROBE + "</body>"), encoding="utf-8")
    try:
        cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
               f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}",
               "--virtual-time-budget=20000", "--run-all-compositor-stages-before-draw", "--dump-dom", probe.as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    finally:
        probe.unlink()
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = re.search(r'<pre id="probe-layout"([^>]*)>(.*?)</pre>', proc.stdout, flags=re.S)
    assert m, f"{page.name}: the page did not finish loading in Chromium"
    attrs = dict(re.findall(r'data-([\w-]+)="([^"]*)"', m.group(1)))
    load = lambda v: json.loads(html.unescape(v))  # noqa: E731
    return Seen(int(attrs["scroll-width"]), int(attrs["inner-width"]), load(attrs["wide"]), int(attrs["inputs"]),
                load(attrs["inputs-shown"]), int(attrs["images"]), load(attrs["broken"]), html.unescape(m.group(2)))


@pytest.fixture(scope="session")
def seen(html_dir, tmp_path_factory) -> dict[str, Seen]:
    """Every chapter of the book opened once in a 1400 x 900 Chromium window."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    pages = _pages(html_dir) + [html_dir / "method.html"]
    return {page.stem: _probe(page, profile) for page in pages}


def test_figures_load_in_a_browser(html_dir, seen):
    """Each notebook page, opened in Chromium, has images and none of them fails to load."""
    for page in _pages(html_dir, figures_only=True):
        s = seen[page.stem]
        assert s.images > 0, f"{page.name}: no image on the page"
        assert s.broken == [], f"{page.name}: broken images {s.broken}"


def test_no_page_is_wider_than_the_window(seen):
    """Nothing scrolls sideways, and no table, equation, figure or code block runs past the right
    edge of the content column."""
    for name, s in seen.items():
        assert s.scroll_width <= s.inner_width, f"{name}: the page is {s.scroll_width} px wide in a {s.inner_width}-px window"
        assert not s.wide, f"{name}: past the content's right edge: {s.wide}"


_ABSOLUTE_PATH = re.compile(r"(?<![\w.~$/-])/(work|tmp|home|root|Users|mnt|scratch|var)/[\w.\-/]*")


def test_no_nan_and_no_absolute_path_on_any_page(seen):
    for name, s in seen.items():
        nan = re.findall(r".{0,40}\b(?:NaN|nan)\b.{0,40}", s.text)
        assert not nan, f"{name}: NaN shown on the page: {nan[:3]}"
        absolute = [m.group(0) for m in _ABSOLUTE_PATH.finditer(s.text)]
        assert not absolute, f"{name}: absolute paths shown on the page: {absolute[:3]}"


def test_code_is_hidden_behind_a_toggle(seen):
    """Every code cell's input is folded away (MyST-NB's hide-input toggle); the pages still hold
    the code."""
    assert sum(s.inputs for s in seen.values()) > 0, "no code cell input on any page"
    for name, s in seen.items():
        assert not s.inputs_shown, f"{name}: code shown by default: {s.inputs_shown[:3]}"


def test_injected_parameters_cell_is_left_out(html_dir):
    """papermill's injected "# Parameters" cell is in the executed notebooks (downloadable) but on no page."""
    executed = html_dir.parent.parent
    injected = [nb.stem for nb in book_mod.toc_notebooks(executed) if "injected-parameters" in nb.read_text(encoding="utf-8")]
    assert injected, "no executed notebook holds papermill's injected-parameters cell"
    for stem in injected:
        page = (html_dir / f"{stem}.html").read_text(encoding="utf-8")
        assert "tag_injected-parameters" not in page and "# Parameters" not in page, \
            f"{stem}.html shows papermill's injected parameters cell"
        assert (html_dir / "_sources" / f"{stem}.ipynb").exists(), f"{stem}.ipynb is not downloadable from the book"


class _OutputTables(HTMLParser):
    """The tables inside cell outputs: for each, its class, whether a body row has a header cell
    (an index column), whether it shows a dash, and whether a footnote follows it."""

    def __init__(self):
        super().__init__()
        self.stack: list[bool] = []  # for each open div: inside a cell output
        self.tables: list[dict] = []
        self.current: dict | None = None
        self.section = ""

    def handle_starttag(self, tag, attrs):
        cls = dict(attrs).get("class") or ""
        if tag == "div":
            self.stack.append(bool(self.stack and self.stack[-1]) or "cell_output" in cls.split())
        inside = bool(self.stack and self.stack[-1])
        if tag == "table" and inside:
            self.current = {"class": cls, "index": False, "dash": False, "note": False}
            self.tables.append(self.current)
        if self.current is not None:
            if tag in ("thead", "tbody"):
                self.section = tag
            if tag == "th" and self.section == "tbody":
                self.current["index"] = True
        if tag == "p" and inside and "book-table-note" in cls and self.tables:
            self.tables[-1]["note"] = True

    def handle_endtag(self, tag):
        if tag == "div" and self.stack:
            self.stack.pop()
        if tag == "table":
            self.current, self.section = None, ""

    def handle_data(self, data):
        if self.current is not None and "\u2014" in data:
            self.current["dash"] = True


def test_tables_have_no_index_and_explain_their_dashes(html_dir):
    """Every table a cell displays goes through saccader.report.tables: no index column (no header cell in
    a body row), and a footnote under any table with a dash for a missing number."""
    count = 0
    for page in _pages(html_dir):
        parser = _OutputTables()
        parser.feed(page.read_text(encoding="utf-8"))
        for t in parser.tables:
            count += 1
            assert "book-table" in t["class"].split(), f"{page.name}: a table not shown by saccader.report.tables ({t['class']})"
            assert not t["index"], f"{page.name}: a table with an index column"
            assert not t["dash"] or t["note"], f"{page.name}: a dash without its footnote"
    assert count, "no table in any cell output"


def test_the_introduction_opens_with_the_headline_figure(html_dir):
    intro = html_dir / "intro.html"
    text = intro.read_text(encoding="utf-8")
    main = text.split('<main', 1)[-1]
    figures = [m.start() for m in re.finditer(r'<img [^>]*src="(?!data:|http)[^"]*_images/[^"]+"', main)]
    tables = [m.start() for m in re.finditer(r"<table", main)]
    assert figures, "the introduction shows no figure"
    assert tables, "the introduction shows no results table"
    assert figures[0] < tables[0], "the introduction shows a table before its figure"


def test_nbval_checks_the_notebooks_in_place(tmp_path):
    """`make nbval` (pytest --nbval-lax book) runs the notebooks where they lie: a chapter passes,
    and a notebook whose cell raises fails (the suite's own check of every notebook is the book
    build above, which runs each through papermill once)."""
    import nbformat

    bad = tmp_path / "bad.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("raise ValueError('broken cell')")]
    nbformat.write(nb, str(bad))
    base = [sys.executable, "-m", "pytest", "-q", "--nbval-lax",
            "--nbval-sanitize-with", "tests/nbval_sanitize.cfg"]
    ok = subprocess.run(base + ["book/environment.ipynb"], cwd=paths.REPO_ROOT, capture_output=True, text=True)
    assert ok.returncode == 0 and " passed" in ok.stdout, ok.stdout[-3000:]
    fail = subprocess.run(base + [str(bad), "--rootdir", str(tmp_path)], cwd=paths.REPO_ROOT, capture_output=True,
                          text=True)
    assert fail.returncode != 0 and "broken cell" in fail.stdout, fail.stdout[-3000:]
