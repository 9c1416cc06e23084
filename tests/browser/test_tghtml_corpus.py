"""The admin page's tghtml.js, in Chromium, gives the Telegram-HTML corpus's verdicts and lengths.

The script is the file the admin router ships, loaded as a module by a blank page of the same
origin (no server needed: Playwright answers the two requests). The Python checkers are held
to the same corpus in tests/unit/test_telegram_html_agreement.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Route

from disparo.web.routes import ASSETS_PATH, MEDIA_TYPES, static_root

pytestmark = pytest.mark.browser

CORPUS_PATH = Path(__file__).parents[1] / "data" / "telegram_html_corpus.json"
CASES: list[dict[str, Any]] = json.loads(CORPUS_PATH.read_text(encoding="utf-8"))["cases"]
ORIGIN = "http://disparo.test"
# What the preview may build: the elements tghtml.js maps Telegram's tags to, and nothing else.
PREVIEW_ELEMENTS = {"STRONG", "EM", "U", "S", "SPAN", "CODE", "PRE", "BLOCKQUOTE"}

RUN_CORPUS = """
async ([assets, cases]) => {
  const { renderTelegramHtml } = await import(`${assets}/js/tghtml.js`);
  const { t, setLang } = await import(`${assets}/js/i18n.js`);
  const results = cases.map((html) => {
    const { fragment, length, problems } = renderTelegramHtml(html);
    const elements = [...fragment.querySelectorAll("*")].map((el) => el.tagName);
    return { length, keys: problems.map((p) => p.key), elements };
  });
  const keys = [...new Set(results.flatMap((r) => r.keys))];
  const untranslated = [];
  for (const language of ["pt-BR", "en"]) {
    setLang(language);
    untranslated.push(...keys.filter((key) => t(key) === key).map((key) => `${language}:${key}`));
  }
  return { results, untranslated };
}
"""


def _serve(route: Route) -> None:
    """The blank page at /, and the admin page's assets as the router serves them."""
    path = route.request.url.removeprefix(ORIGIN)
    if path == "/":
        route.fulfill(body="<!doctype html><title>corpus</title>", content_type="text/html")
        return
    name = path.removeprefix(ASSETS_PATH + "/")
    asset = static_root().joinpath(*name.split("/"))
    if not path.startswith(ASSETS_PATH + "/") or not asset.is_file():
        route.fulfill(status=404, body="no such asset")
        return
    media_type = MEDIA_TYPES["." + name.rsplit(".", 1)[-1]]
    route.fulfill(body=asset.read_bytes(), content_type=media_type)


@pytest.fixture(scope="module")
def preview(browser: Browser) -> dict[str, Any]:
    """Every corpus case rendered by tghtml.js: length, problem keys and elements built."""
    context = browser.new_context()
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.route(f"{ORIGIN}/**", _serve)
        page.goto(f"{ORIGIN}/")
        outcome = page.evaluate(RUN_CORPUS, [ASSETS_PATH, [case["html"] for case in CASES]])
    finally:
        context.close()
    assert not errors, errors
    results = zip([case["html"] for case in CASES], outcome["results"], strict=True)
    return {"by_html": dict(results), "untranslated": outcome["untranslated"]}


def _case_id(case: dict[str, Any]) -> str:
    return case["html"].encode("unicode_escape").decode("ascii")[:60] or "<empty>"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_preview_gives_the_corpus_verdict_and_length(
    preview: dict[str, Any], case: dict[str, Any]
) -> None:
    """No problem and Telegram's length for a valid case; at least one problem otherwise; the
    preview builds only whitelisted elements."""
    result = preview["by_html"][case["html"]]
    if case["valid"]:
        assert result["keys"] == [], case["rule"]
        assert result["length"] == case["length"], case["rule"]
    else:
        assert result["keys"], case["rule"]
    assert set(result["elements"]) <= PREVIEW_ELEMENTS, result["elements"]


def test_every_problem_the_preview_reports_has_words(preview: dict[str, Any]) -> None:
    """Each problem key met on the corpus has a text in pt-BR and in English."""
    assert preview["untranslated"] == []
