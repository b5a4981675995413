"""Screenshots of the docs site as a reader sees it, and what a reader could not read whole.

``make docs-shots`` (``python -m tools.docshots``) builds the site with mkdocs (strict),
opens every page in headless Chromium at a desktop and a phone width, and saves a
full-page PNG of each into ``--out`` (``build/docs-shots``, not committed): look at them.
It also lists, per page and width, what the eye would catch: the whole page scrolling
sideways, content running past the edge of the screen with no scroll bar to reach it
(cut off), and plots shown at less than `SHRUNK_BELOW` of the size they were drawn at
(their lettering shrinks with them). Code blocks and tables wider than the text scroll
inside the page: they are listed as a note, not a fault. It exits 1 when something is
cut off or the page scrolls sideways.

The browser is Playwright's, driving the system's Chromium when there is one
(``apt-get install chromium``), else the one ``python -m playwright install chromium``
downloads.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

import click

WIDTHS_PX: Final[tuple[int, ...]] = (1280, 390)
"""The widths the pages are shown at: a laptop screen and a phone."""

VIEWPORT_HEIGHT_PX: Final = 900
"""The window's height; the screenshot covers the whole page, whatever its length."""

SHRUNK_BELOW: Final = 0.75
"""A plot shown at less than this fraction of its drawn width is reported as shrunk."""

BROWSERS: Final[tuple[str, ...]] = ("chromium", "chromium-browser", "google-chrome")
"""System browsers tried, in order, before Playwright's own download."""

_MEASURE: Final = """
() => {
  const width = document.documentElement.clientWidth;
  const name = (el) => {
    const text = (el.textContent || el.getAttribute('src') || '').trim().replace(/\\s+/g, ' ');
    return el.tagName.toLowerCase() + ' "' + text.slice(0, 50) + '"';
  };
  const clipper = (el) => {
    for (let a = el.parentElement; a; a = a.parentElement) {
      const overflow = getComputedStyle(a).overflowX;
      if (overflow !== 'visible') return overflow;
    }
    return 'visible';
  };
  const cut = [];
  const scrolls = [];
  const shrunk = [];
  const content = document.querySelector('.md-content') || document.body;
  for (const el of content.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    const parent = el.parentElement.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 1 && parent.right <= width + 1) {
      const overflow = clipper(el);
      if (overflow !== 'auto' && overflow !== 'scroll') cut.push(name(el));
    }
    const overflow = getComputedStyle(el).overflowX;
    if ((overflow === 'auto' || overflow === 'scroll') && el.scrollWidth > el.clientWidth + 1) {
      scrolls.push(name(el) + ' ' + el.clientWidth + ' of ' + el.scrollWidth + ' px');
    }
    if (el.tagName === 'IMG' && el.naturalWidth > 0) {
      const scale = box.width / el.naturalWidth;
      if (scale < SHRUNK_BELOW) shrunk.push(name(el) + ' at ' + Math.round(scale * 100) + '%');
    }
  }
  const sideways = document.documentElement.scrollWidth > width + 1;
  return {sideways: sideways, cut: cut, scrolls: scrolls, shrunk: shrunk};
}
""".replace("SHRUNK_BELOW", str(SHRUNK_BELOW))


def build_site(config: Path, site: Path) -> None:
    """Build the docs of *config* into *site* with ``mkdocs build --strict``."""
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet"]
    subprocess.run(  # noqa: S603 - this interpreter's mkdocs on paths given by the caller
        [*command, "--config-file", str(config), "--site-dir", str(site)],
        check=True,
    )


def pages(site: Path) -> list[tuple[str, Path]]:
    """The built pages of *site*, named by their folder ("index" for the home page)."""
    found = [("index", site / "index.html")]
    for page in sorted(site.glob("*/index.html")):
        if page.parent.name not in ("search", "assets"):
            found.append((page.parent.name, page))
    return found


def browser_path() -> str | None:
    """The system's Chromium, or None to let Playwright use its own download."""
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def shoot(site: Path, out: Path, widths: tuple[int, ...]) -> list[str]:
    """Screenshot every page of *site* at each of *widths* into *out*; return the faults."""
    try:
        sync_api: Any = importlib.import_module("playwright.sync_api")
    except ImportError as exc:
        raise click.ClickException(
            f"{exc}: install it with `pip install playwright` (make docs-shots does)"
        ) from exc
    faults = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path())
        try:
            for width in widths:
                page = browser.new_page(viewport={"width": width, "height": VIEWPORT_HEIGHT_PX})
                for name, path in pages(site):
                    page.goto(path.as_uri(), wait_until="load")
                    shot = out / f"{name}-{width}.png"
                    page.screenshot(path=str(shot), full_page=True)
                    found = page.evaluate(_MEASURE)
                    where = f"{name} at {width} px"
                    if found["sideways"]:
                        faults.append(f"{where}: the page scrolls sideways")
                    faults += [f"{where}: cut off: {each}" for each in found["cut"]]
                    for each in found["shrunk"]:
                        click.echo(f"{where}: plot shrunk: {each}")
                    for each in found["scrolls"]:
                        click.echo(f"{where}: scrolls inside the page: {each}")
                page.close()
        finally:
            browser.close()
    return faults


@click.command()
@click.option(
    "--config",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=Path("mkdocs.yml"),
    show_default=True,
    help="The mkdocs configuration to build.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("build/docs-shots"),
    show_default=True,
    help="Where the site is built (site/) and the screenshots are written.",
)
@click.option(
    "--width",
    "widths",
    type=click.IntRange(200, 4000),
    multiple=True,
    default=WIDTHS_PX,
    show_default=True,
    help="Window width in CSS pixels; repeat for several.",
)
def command(config: Path, out: Path, widths: tuple[int, ...]) -> None:
    """Build the docs and save full-page screenshots of every page at each width."""
    site = out / "site"
    if site.exists():
        shutil.rmtree(site)
    out.mkdir(parents=True, exist_ok=True)
    build_site(config, site)
    faults = shoot(site.resolve(), out, widths)
    for fault in faults:
        click.echo(fault, err=True)
    click.echo(f"screenshots of {len(pages(site))} pages at {widths} px in {out}")
    if faults:
        raise click.ClickException(f"{len(faults)} things a reader cannot read whole (above)")


def main() -> None:
    """Entry point of ``python -m tools.docshots`` (``make docs-shots``)."""
    command(prog_name="python -m tools.docshots")


if __name__ == "__main__":
    main()
