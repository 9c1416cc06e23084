"""Personal variables: the syntax, its errors, and rendering that escapes every value."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from disparo.domain.variables import (
    ContactValues,
    Variable,
    VariableError,
    format_brl,
    parse_template,
    render,
)

ANA = ContactValues(
    first_name="<b>Ana</b> & Cia",
    username="ana_b",
    last_pix_amount_cents=4990,
    total_paid_cents=123_456,
    last_pix_at=datetime(2026, 12, 6, 1, 30, tzinfo=UTC),  # the 5th in São Paulo
    tags=("curso-a", "vip"),
    attributes={"plano": "anual/2026", "ativo": True, "vazio": ""},
)


def html_of(text: str, values: ContactValues = ANA) -> tuple[str, tuple[str, ...]]:
    rendered = render(parse_template(text), values, timezone="America/Sao_Paulo")
    return rendered.text, rendered.missing


def test_parts_and_fallbacks() -> None:
    template = parse_template("Oi {first_name|amigo}, {{x}} {attr.plano}!")
    assert template.parts == (
        "Oi ",
        Variable("first_name", "amigo"),
        ", {x} ",
        Variable("attr.plano"),
        "!",
    )
    assert template.personal
    assert not parse_template("sem variáveis {{ok}}").personal
    assert parse_template("sem variáveis {{ok}}").parts == ("sem variáveis {ok}",)


def test_values_are_html_escaped_and_formatted() -> None:
    text, missing = html_of(
        "<b>{first_name}</b>, seu PIX de {last_pix_amount} de {last_pix_at}; total {total_paid}"
    )
    assert text == (
        "<b>&lt;b&gt;Ana&lt;/b&gt; &amp; Cia</b>, seu PIX de R$ 49,90 de 05/12/2026; "
        "total R$ 1.234,56"
    )
    assert missing == ()
    assert html_of("{tags} {attr.ativo} @{username}")[0] == "curso-a, vip sim @ana_b"


def test_missing_values_render_empty_or_their_fallback_and_are_reported() -> None:
    nobody = ContactValues()
    assert html_of("Oi {first_name}{last_name}!", nobody) == ("Oi !", ("first_name", "last_name"))
    assert html_of("Oi {first_name|amigo}!", nobody) == ("Oi amigo!", ())
    assert html_of("{attr.vazio|-}{attr.nada}", ANA) == ("-", ("attr.nada",))


def test_urls_are_percent_encoded() -> None:
    url = "https://loja.example/pix?nome={first_name}&plano={attr.plano}&c={attr.x|SEM CUPOM}"
    rendered = render(parse_template(url, "buttons"), ANA, timezone="UTC", mode="url")
    assert rendered.text == (
        "https://loja.example/pix?nome=%3Cb%3EAna%3C%2Fb%3E%20%26%20Cia"
        "&plano=anual%2F2026&c=SEM%20CUPOM"
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Oi {nome}", "unknown variable {nome}"),
        ("Oi {attr.}", "unknown variable {attr.}"),
        ("Oi {attr.plano-x}", "unknown variable"),
        ("Oi {", "unmatched '{' at character 4"),
        ("Oi }", "unmatched '}'"),
        ("{first_name", "unmatched '{'"),
    ],
)
def test_errors_name_the_variable_and_the_accepted_ones(text: str, words: str) -> None:
    with pytest.raises(VariableError) as caught:
        parse_template(text)
    assert words in str(caught.value)
    if "unknown" in words:
        assert "{first_name}" in str(caught.value)
        assert "{attr.<key>}" in str(caught.value)


def test_brl() -> None:
    assert [format_brl(c) for c in (0, 5, 4990, 123_456_789, -250)] == [
        "R$ 0,00",
        "R$ 0,05",
        "R$ 49,90",
        "R$ 1.234.567,89",
        "-R$ 2,50",
    ]
