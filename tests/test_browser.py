"""The site in a real browser: Chromium, driven by Playwright, on the built site served on 127.0.0.1.

The site is served under the sub-path of its ``site_url`` (``/pytorch-notes/``
by default, as on GitHub Pages), gzip-compressed like GitHub Pages, and the
browser cannot resolve any other host. Screenshots and the page-weight table
go to ``test-results/`` (``PYTORCH_NOTES_RESULTS`` to change it).

Needs a Chromium: Debian's ``chromium`` (``apt-get install chromium``), or any
Chrome named by ``CHROMIUM=/path/to/chrome``. Without one these tests skip,
unless ``PYTORCH_NOTES_REQUIRE_BROWSER=1`` (set by ``.ci/run``) makes that a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(os.environ.get("PYTORCH_NOTES_RESULTS", ROOT / "test-results"))
CHROMIUM_NAMES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # nothing but the test server resolves
]
PAGE_BUDGET = 400_000  # bytes transferred by a page at load, its own figures excepted
SAMPLE = ["", "autograd/autograd-basics/", "architecture/attention/", "generative/ddpm/",
          "engineering/schedules/", "peft/lora/", "reference/", "reference/layers/"]
_weights: list[dict] = []


def _chromium() -> str | None:
    names = [os.environ["CHROMIUM"]] if os.environ.get("CHROMIUM") else CHROMIUM_NAMES
    return next((found for name in names if (found := shutil.which(name))), None)


@pytest.fixture(scope="session")
def browser():
    executable = _chromium()
    if executable is None:
        message = "no Chromium found: apt-get install chromium, or set CHROMIUM=/path/to/chrome"
        if os.environ.get("PYTORCH_NOTES_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@dataclass
class Visit:
    """One page load in a fresh browser context (empty cache), and what happened during it."""

    page: object
    response: object
    errors: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    finished: list = field(default_factory=list)

    def transferred(self, *, figures: bool) -> int:
        """Bytes received (headers and compressed bodies) for the page's figures, or for all else."""
        total = 0
        for request in self.finished:
            if ("/assets/figures/" in request.url) == figures:
                sizes = request.sizes()
                total += sizes["responseHeadersSize"] + sizes["responseBodySize"]
        return total


# Records what Lighthouse scores a page load on: largest contentful paint, layout shift, and the
# blocking part of long tasks (over 50 ms), from the browser's own performance entries.
WEB_VITALS = """
window.__vitals = {lcp: 0, cls: 0, tbt: 0};
new PerformanceObserver((list) => list.getEntries().forEach((entry) => {
  if (entry.entryType === "largest-contentful-paint") window.__vitals.lcp = entry.startTime;
  if (entry.entryType === "layout-shift" && !entry.hadRecentInput) window.__vitals.cls += entry.value;
  if (entry.entryType === "longtask") window.__vitals.tbt += Math.max(0, entry.duration - 50);
})).observe({entryTypes: ["largest-contentful-paint", "layout-shift", "longtask"]});
"""


@pytest.fixture
def visit(browser, served_site):
    """visit(path, language="en") loads ``served_site + path`` and waits until the network is idle."""
    contexts = []

    def load(path: str, **context_options) -> Visit:
        context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **context_options})
        contexts.append(context)
        page = context.new_page()
        record = Visit(page, None)
        def console(message):
            its_own_status = message.text.startswith("Failed to load resource") and message.location.get("url") == page.url
            if message.type == "error" and not its_own_status:  # a 404 page logs its own status: that is the point
                record.errors.append(message.text)

        page.on("console", console)
        page.on("pageerror", lambda error: record.errors.append(str(error)))
        page.on("request", lambda request: urlsplit(request.url).hostname not in (None, "127.0.0.1")
                and urlsplit(request.url).scheme in ("http", "https", "ws", "wss") and record.external.append(request.url))
        page.on("requestfailed", lambda request: record.broken.append(f"{request.url} ({request.failure})"))
        page.on("response", lambda response: response.status >= 400 and not response.request.is_navigation_request()
                and record.broken.append(f"{response.url} ({response.status})"))
        page.on("requestfinished", lambda request: record.finished.append(request))
        page.add_init_script(WEB_VITALS)
        record.response = page.goto(served_site + path, wait_until="load")
        page.wait_for_load_state("networkidle")
        return record

    yield load
    for context in contexts:
        context.close()


@pytest.fixture(scope="module", autouse=True)
def weight_report():
    """Writes the page-weight table measured by test_page_loads_cleanly once the module is done."""
    yield
    if not _weights:
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = sorted(_weights, key=lambda row: (row["page"], row["language"]))
    lines = ["| page | language | requests | transferred (KB) | its figures (KB) | DOM nodes | "
             "DOMContentLoaded (ms) | load (ms) | LCP (ms) | TBT (ms) | CLS |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| /{row['page']} | {row['language']} | {row['requests']} | {row['bytes'] / 1000:.1f} | "
              f"{row['figure_bytes'] / 1000:.1f} | {row['dom_nodes']} | {row['dom_content_loaded']:.0f} | "
              f"{row['load']:.0f} | {row['lcp']:.0f} | {row['tbt']:.0f} | {row['cls']:.3f} |" for row in rows]
    (RESULTS / "page-weight.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (RESULTS / "page-weight.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


def _prefix(language: str) -> str:
    return "" if language == "en" else f"{language}/"


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("path", SAMPLE)
def test_page_loads_cleanly(visit, path, language):
    """No console error, nothing fetched from another host, nothing missing, math typeset, light enough."""
    loaded = visit(_prefix(language) + path)
    page = loaded.page
    assert loaded.response.status == 200
    assert page.evaluate("document.documentElement.lang") == ("zh-CN" if language == "zh" else "en")
    assert not loaded.errors, loaded.errors
    assert not loaded.external, f"requests leaving 127.0.0.1: {loaded.external}"
    assert not loaded.broken, loaded.broken

    formulas = page.locator(".arithmatex").count()
    typeset = page.locator(".arithmatex .katex").count()
    assert typeset == formulas, f"{formulas - typeset} of {formulas} formulas were not typeset"
    raw = page.evaluate(r"""() => {
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        const found = [];
        for (let node; (node = walker.nextNode());) {
            if (node.parentElement.closest(".katex, math, code, pre, script, textarea")) continue;
            if (/\\\(|\\\[|\$\$|\$[^$\s][^$]*\$/.test(node.textContent)) found.push(node.textContent.trim());
        }
        return found;
    }""")
    assert not raw, f"raw TeX left on the page: {raw[:3]}"

    timing = page.evaluate("performance.getEntriesByType('navigation')[0].toJSON()")
    vitals = page.evaluate("window.__vitals")
    weight = loaded.transferred(figures=False)
    _weights.append({"page": path, "language": language, "requests": len(loaded.finished), "bytes": weight,
                     "figure_bytes": loaded.transferred(figures=True),
                     "dom_content_loaded": timing["domContentLoadedEventEnd"], "load": timing["loadEventEnd"],
                     "lcp": vitals["lcp"], "tbt": vitals["tbt"], "cls": vitals["cls"],
                     "dom_nodes": page.evaluate("document.getElementsByTagName('*').length")})
    assert vitals["cls"] <= 0.1, f"layout shift {vitals['cls']:.3f} (figures need width and height)"
    assert weight <= PAGE_BUDGET, f"/{_prefix(language)}{path} transferred {weight} bytes at load (budget {PAGE_BUDGET})"
    assert not any("search_index.json" in request.url for request in loaded.finished), \
        "the search index is fetched at load (overrides/partials/javascripts/lazy-search-index.html holds it until search opens)"


@pytest.mark.parametrize("language", ["en", "zh"])
def test_screenshot(visit, language):
    """A chapter page with math, code and output, saved for a person to look at."""
    loaded = visit(_prefix(language) + "architecture/attention/")
    RESULTS.joinpath("screenshots").mkdir(parents=True, exist_ok=True)
    target = RESULTS / "screenshots" / f"attention-{language}.png"
    loaded.page.screenshot(path=str(target))
    assert target.stat().st_size > 20_000  # a blank page is a few KB


@pytest.mark.parametrize("start, other, twin", [
    ("architecture/attention/", "zh", "zh/architecture/attention/"),
    ("zh/architecture/attention/", "en", "architecture/attention/"),
])
def test_language_switcher_goes_to_the_twin_page(visit, served_site, start, other, twin):
    page = visit(start).page
    page.hover(".md-header__option .md-select")
    page.click(f"a.md-select__link[hreflang={other}]")
    page.wait_for_load_state("load")
    assert page.url == served_site + twin


@pytest.mark.parametrize("start, other", [("architecture/attention/", "zh"), ("zh/architecture/attention/", "en")])
def test_language_switcher_keeps_the_readers_section(visit, start, other):
    """From the third section of a page, the switcher opens the twin page at its third section."""
    page = visit(start).page
    page.locator("article h2[id]").nth(2).evaluate("h => h.scrollIntoView()")
    page.evaluate("window.scrollBy(0, 40)")  # reading just below the heading
    page.hover(".md-header__option .md-select")
    page.click(f"a.md-select__link[hreflang={other}]")
    page.wait_for_load_state("load")
    page.wait_for_function("location.hash.length > 1")
    heading = page.locator("article h2[id]").nth(2)
    assert page.evaluate("decodeURIComponent(location.hash.slice(1))") == heading.get_attribute("id")
    assert 0 <= heading.evaluate("h => h.getBoundingClientRect().top") < 200


@pytest.mark.parametrize("start, term, expected", [
    ("zh/", "反向传播", "zh/nn/loss-backward/"),
    ("", "beam search", "inference/beam-search/"),
    ("zh/", "backward", None),  # an English word on a zh page: zh results only
])
def test_search_finds_the_page_in_the_readers_language(visit, served_site, start, term, expected):
    page = visit(start).page
    page.keyboard.press("/")  # Material's shortcut: opens search and focuses the input
    page.fill("input.md-search__input", term)
    page.wait_for_selector(".md-search-result__item", timeout=20_000)
    links = page.eval_on_selector_all(".md-search-result__item > a", "links => links.map(a => a.href)")
    pages = [link.split("?")[0].split("#")[0] for link in links]  # Material adds ?h=<term> to highlight it
    assert expected is None or served_site + expected in pages[:3], pages
    assert all(page.startswith(served_site + "zh/") == start.startswith("zh") for page in pages), pages


def test_copy_button_copies_the_snippet(visit):
    loaded = visit("autograd/autograd-basics/", permissions=["clipboard-read", "clipboard-write"])
    page = loaded.page
    block = page.locator("div.highlight:has(button[data-md-type=copy])").first
    block.hover()
    block.locator("button[data-md-type=copy]").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    shown = block.locator("code").inner_text()
    assert copied.strip() == shown.strip() and "import torch" in copied


@pytest.mark.parametrize("language", ["en", "zh"])
def test_notebook_download_is_a_valid_notebook(visit, language):
    page = visit(_prefix(language) + "peft/lora/").page
    link = page.locator("a.md-button[href$='.ipynb']:not([href^='https:'])")  # not the Colab button
    assert link.count() == 1
    response = page.request.get(link.evaluate("a => a.href"))
    assert response.status == 200
    notebook = nbformat.reads(response.text(), as_version=4)
    nbformat.validate(notebook)
    assert any("LoRALinear" in cell.source for cell in notebook.cells if cell.cell_type == "code")


def test_dark_mode_toggles(visit):
    page = visit("", color_scheme="light").page
    scheme = "document.body.getAttribute('data-md-color-scheme')"
    assert page.evaluate(scheme) == "default"
    page.click("form[data-md-component=palette] label:visible")
    assert page.evaluate(scheme) == "slate"
    page.click("form[data-md-component=palette] label:visible")
    assert page.evaluate(scheme) == "default"


def test_blocks_far_below_the_screen_are_laid_out_only_when_reached(visit):
    """A heavy page loads without drawing its lower blocks (content-visibility in extra.css), yet
    every box there that scrolls sideways already takes keyboard focus; scrolled to, a block is drawn."""
    page = visit("generative/ddpm/", **PHONE).page
    drawn = """() => [...document.querySelectorAll('.md-content__inner > *')]
        .filter(block => getComputedStyle(block).contentVisibility === 'auto' && block.firstElementChild)
        .map(block => block.firstElementChild.checkVisibility({contentVisibilityAuto: true}))"""
    at_load = page.evaluate(drawn)
    assert at_load, "no block of the page is drawn only when it nears the screen"
    assert at_load[0] and not at_load[-1], "the first block is drawn, the last one is not"
    assert sum(at_load) < len(at_load) / 4, f"{sum(at_load)} of {len(at_load)} blocks were drawn at load"
    page.wait_for_selector("body[data-scroll-boxes=measured]", state="attached")
    far_and_wide = page.evaluate("""() => [...document.querySelectorAll('article div.arithmatex, article pre > code')]
        .map(box => [box, box.matches('div.arithmatex') ? box.firstElementChild : box])
        .filter(([box, content]) => box.getBoundingClientRect().top > 3 * innerHeight
                                    && content.scrollWidth > box.clientWidth + 1)
        .map(([box, content]) => [box.tabIndex, content.checkVisibility({contentVisibilityAuto: true})])""")
    assert len(far_and_wide) >= 5, "wide boxes far down the page"
    assert far_and_wide == [[0, False]] * len(far_and_wide), "each is focusable before it is drawn"
    last = page.locator(".md-content__inner > .highlight").last
    last.scroll_into_view_if_needed()
    page.wait_for_function("block => block.firstElementChild.checkVisibility({contentVisibilityAuto: true})",
                           arg=last.element_handle())


def test_code_blocks_are_set_up_on_first_sight_and_keep_keyboard_focus(visit):
    """Material sets a code block up (its copy button) when it first comes into view (content.lazy),
    so a long page does not lay every block out at load. A wide block set up on a phone keeps its
    keyboard focus: Material takes it away on screens without hover, and a11y.js gives it back."""
    page = visit("generative/ddpm/", **PHONE).page
    page.wait_for_selector("body[data-scroll-boxes=measured]", state="attached")
    blocks = page.evaluate("""() => [...document.querySelectorAll('article pre > code')].map(code =>
        [code.scrollWidth > code.clientWidth + 1, code.tabIndex, !!code.parentElement.querySelector('.md-code__nav')])""")
    set_up = [block[2] for block in blocks]
    assert not set_up[-1] and sum(set_up) < len(blocks) / 4, f"{sum(set_up)} of {len(blocks)} set up at load"
    last_wide = max(index for index, (wide, _, _) in enumerate(blocks) if wide)
    assert blocks[last_wide][1:] == [0, False], "the last wide block, focusable before it is set up"
    code = page.locator("article pre > code").nth(last_wide)
    code.scroll_into_view_if_needed()
    code.locator("xpath=..").locator("button[data-md-type=copy]").wait_for(state="attached")
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    assert code.evaluate("code => code.tabIndex") == 0, "set up, it still takes keyboard focus"


def test_loading_a_page_leaves_the_colour_switch_mark_to_the_toggle(browser, served_site):
    """Material marks <body> with data-md-color-switching while it switches colours, so that nothing
    fades, and each mark restyles every element. On load the colours are already in place, and
    quiet-palette-on-load.html (in overrides/partials/javascripts) skips that mark; the toggle
    still marks the body, and then unmarks it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    page = context.new_page()
    page.add_init_script("""window.marks = [];
        new MutationObserver(changes => changes.forEach(change => window.marks.push(
            change.target.hasAttribute('data-md-color-switching'))))
        .observe(document, {subtree: true, attributeFilter: ['data-md-color-switching']});""")
    page.goto(served_site + "generative/ddpm/", wait_until="load")
    page.wait_for_load_state("networkidle")
    page.evaluate("() => new Promise(done => setTimeout(done, 100))")  # Material unmarks a turn later
    at_load = page.evaluate("window.marks")
    page.click("form[data-md-component=palette] label:visible")
    page.wait_for_function("window.marks.length >= 2")
    toggled = page.evaluate("[window.marks, document.body.getAttribute('data-md-color-scheme')]")
    context.close()
    assert at_load == [], f"marked on load: {at_load}"
    assert toggled == [[True, False], "slate"]


def test_scroll_boxes_are_measured_once_their_fonts_are_in(browser, served_site):
    """Laying out a far formula can send for a KaTeX font the page had not needed yet; on a slow
    connection the box is measured again when the font is in, before it counts as measured."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.route("**/*.woff2", lambda route: (time.sleep(0.4), route.continue_()))
    page.goto(served_site + "losses/label-smoothing/", wait_until="load")
    page.wait_for_function("document.body.dataset.scrollBoxes === 'measured' && document.fonts.status === 'loaded'")
    boxes = page.evaluate("""() => [...document.querySelectorAll('article div.arithmatex')]
        .map(box => [box.firstElementChild.scrollWidth > box.clientWidth + 1, box.tabIndex === 0])""")
    context.close()
    assert any(wide for wide, _ in boxes), "a formula wider than the column"
    assert all(wide == focusable for wide, focusable in boxes), boxes


@pytest.mark.parametrize("section", ["training-on-the-ring", "ancestral-sampling"])
def test_a_link_to_a_far_section_lands_on_its_heading(visit, section):
    """The blocks above a far section are drawn only after the browser has scrolled to it, and
    they change height; the page still settles with the heading at the top and the table of
    contents marking that section."""
    page = visit(f"generative/ddpm/#{section}").page
    page.wait_for_function("""section => {
        const heading = document.getElementById(section);
        const top = heading.getBoundingClientRect().top, margin = parseFloat(getComputedStyle(heading).scrollMarginTop);
        const marked = document.querySelector('.md-nav--secondary .md-nav__link--active');
        return Math.abs(top - margin) <= 1 && marked && marked.hash === '#' + section }""", arg=section, timeout=10_000)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_link_into_the_reference_from_before_its_split_goes_on_to_the_objects_page(visit, language):
    page = visit(_prefix(language) + "reference/#pytorch_notes.attention.KVCache").page
    page.wait_for_url(f"**/{_prefix(language)}reference/layers/#pytorch_notes.attention.KVCache")
    page.wait_for_function("""() => {
        const top = document.getElementById('pytorch_notes.attention.KVCache').getBoundingClientRect().top;
        return top >= 0 && top < innerHeight / 2 }""")


def test_missing_page_answers_with_the_404_page(visit, served_site):
    loaded = visit("no/such/page/")
    page = loaded.page
    assert loaded.response.status == 404
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.inner_text("article h1") == "404: page not found"
    assert not loaded.errors and not loaded.broken and not loaded.external
    homes = page.eval_on_selector_all("article a", "links => links.map(a => a.href)")
    assert served_site in homes and served_site + "zh/" in homes
    page.hover(".md-header__option .md-select")
    page.click("a.md-select__link[hreflang=zh]")
    page.wait_for_load_state("load")
    assert page.url == served_site + "zh/"


def test_chinese_404_page(visit, served_site):
    loaded = visit("zh/404.html")
    assert loaded.page.evaluate("document.documentElement.lang") == "zh-CN"
    assert loaded.page.inner_text("article h1") == "404：页面不存在"
    assert not loaded.errors and not loaded.broken and not loaded.external


AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
# the heaviest pages (most math, figures, DOM) and the home page, in both languages
HEAVY = ["", "generative/ddpm/", "generative/diffusion-beyond/", "architecture/attention/", "nn/lenet/",
         "engineering/checkpointing/", "reference/layers/",
         "losses/kl-divergence/"]  # (and the page with the longest inline formula)


def _axe(page) -> list[str]:
    """The serious and critical accessibility violations axe-core finds on the loaded page."""
    page.wait_for_selector("body[data-scroll-boxes=measured]", state="attached")  # (a11y.js)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [f"{violation['id']} ({violation['impact']}): {len(violation['nodes'])}x, e.g. "
            f"{violation['nodes'][0]['target']}" for violation in result["violations"]
            if violation["impact"] in ("serious", "critical")]


def test_every_page_passes_axe(browser, site, served_site):
    """axe-core on every page of the site, both languages (desktop, light)."""
    pages = sorted(str(path.relative_to(site).parent) for path in site.rglob("index.html"))
    assert len(pages) > 120
    found = {}
    for path in pages:  # a fresh context each: one page's memory never weighs on the next
        context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
        page = context.new_page()
        page.goto(served_site + ("" if path == "." else path + "/"), wait_until="load")
        found.update({f"/{path}/ {violation}": 1 for violation in _axe(page)})
        context.close()
    assert not found, "\n".join(found)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("device", ["desktop", "phone"])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_heavy_pages_pass_axe_and_fit_on_a_phone_and_a_desk_in_light_and_dark(
        browser, served_site, scheme, device, language):
    """The heaviest pages, in each colour scheme on a phone and a desk: no serious axe violation,
    no code or equation overflowing without its own scroll box; screenshots saved for a person."""
    options = PHONE if device == "phone" else {"viewport": {"width": 1440, "height": 900}}
    context = browser.new_context(color_scheme=scheme, **options)
    page = context.new_page()
    shots = RESULTS / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    problems = []
    for path in HEAVY:
        page.goto(served_site + _prefix(language) + path, wait_until="load")
        page.wait_for_load_state("networkidle")
        name = (path.strip("/").replace("/", "-") or "home") + f"-{language}-{device}-{scheme}.png"
        page.screenshot(path=str(shots / name))
        problems += [f"/{path} {violation}" for violation in _axe(page)]
        wider = page.evaluate("""async () => {  // an equation box is marked once it nears the screen
            const frames = () => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
            const unmarked = [];
            for (const box of document.querySelectorAll('article pre, article div.arithmatex')) {
                const content = box.tagName === 'DIV' ? box.firstElementChild : box;  // (an undrawn block
                if (content.scrollWidth <= box.clientWidth + 1) continue;              // hides its width)
                if (box.tagName === 'DIV') box.scrollIntoView({block: 'center'});
                for (let wait = 0; box.tagName === 'DIV' && box.tabIndex !== 0 && wait < 10; wait++) await frames();
                if (getComputedStyle(box).overflowX === 'visible' || (box.tagName === 'DIV' && box.tabIndex !== 0))
                    unmarked.push(box.textContent.slice(0, 40));
            }
            return unmarked }""")
        problems += [f"/{path} overflows with no scroll box: {text!r}" for text in wider]
        off_column = page.evaluate("""() => {
            const right = document.querySelector('article').getBoundingClientRect().right;
            return [...document.querySelectorAll('article span.arithmatex')]
                .filter(math => math.getBoundingClientRect().right > right + 1)
                .map(math => math.textContent.slice(0, 40)) }""")
        problems += [f"/{path} inline math runs past the column: {text!r}" for text in off_column]
        if device == "desktop":
            cut = page.evaluate("""() => [...document.querySelectorAll('article .highlight:not(.no-copy) pre > code')]
                .filter(code => code.scrollWidth > code.parentElement.clientWidth + 1)
                .map(code => code.textContent.slice(0, 40))""")
            problems += [f"/{path} a code block is wider than the column: {text!r}" for text in cut]
    context.close()
    assert not problems, "\n".join(problems)
