"""Swagger UI at /docs (DISPARO_API_DOCS on) in Chromium: it renders from this server's files
alone and trips no Content-Security-Policy rule."""

from __future__ import annotations

import pytest
from admin_page import Stack, screenshot
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

# Runs before the page's own scripts; the CSP does not apply to it.
WATCH_CSP = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


def test_swagger_ui_renders_from_this_server_under_the_csp(page: Page, stack: Stack) -> None:
    """Every request of the page goes to this server, the operations are listed (the new
    webhook-secret route among them), and no CSP violation or console error happens."""
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.add_init_script(WATCH_CSP)
    page.goto(f"{stack.base_url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Disparo")
    rotate = page.locator(".opblock-summary-path", has_text="/webhook-secret:rotate")
    expect(rotate).to_have_count(1)
    rotate.click()
    expect(page.locator(".opblock-description-wrapper").first).to_contain_text("sealed")
    screenshot(page, "18-api-docs")
    assert page.evaluate("window.__violations") == []
    assert f"{stack.base_url}/openapi.json" in requested
    elsewhere = [url for url in requested if not url.startswith((stack.base_url, "data:"))]
    assert elsewhere == [], elsewhere
