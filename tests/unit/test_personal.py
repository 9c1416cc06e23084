"""What a shot with variables sends: one recipient's steps, the same steps for a shot without
variables, and the copy that grows past Telegram's limit for one contact."""

from __future__ import annotations

import pytest

from disparo.domain.personal import Personalizer, TooLongError, shot_steps
from disparo.domain.sending import Step
from disparo.domain.variables import ContactValues

BUTTONS = [[{"text": "Pagar", "url": "https://x.example/pix?n={first_name}"}]]


def steps(
    copy: str, *, templated: bool = True, media_type: str = "none", buttons: object = None
) -> tuple[Step, ...] | Personalizer:
    return shot_steps(
        copy=copy,
        media_type=media_type,
        media_url="https://x.example/a.jpg" if media_type != "none" else None,
        buttons=buttons,
        paid_broadcast=False,
        templated=templated,
        timezone="America/Sao_Paulo",
    )


def test_a_shot_without_variables_sends_the_same_steps_with_its_braces_written() -> None:
    plain = steps("Use o cupom {{BF30}}")
    assert isinstance(plain, tuple)
    assert plain[0].params["text"] == "Use o cupom {BF30}"
    legacy = steps("Use o cupom {{BF30}}", templated=False)  # a shot older than templates
    assert isinstance(legacy, tuple)
    assert legacy[0].params["text"] == "Use o cupom {{BF30}}"


def test_each_recipient_gets_its_own_escaped_copy_and_encoded_url() -> None:
    personal = steps("Oi <b>{first_name|amigo}</b>!", buttons=BUTTONS)
    assert isinstance(personal, Personalizer)
    [step] = personal.steps_for(ContactValues(first_name="<i>Ana</i> & Cia"))
    assert step.params["text"] == "Oi <b>&lt;i&gt;Ana&lt;/i&gt; &amp; Cia</b>!"
    assert step.params["reply_markup"]["inline_keyboard"][0][0]["url"] == (
        "https://x.example/pix?n=%3Ci%3EAna%3C%2Fi%3E%20%26%20Cia"
    )
    [other] = personal.steps_for(ContactValues())
    assert other.params["text"] == "Oi <b>amigo</b>!"


def test_a_caption_too_long_for_one_contact_is_that_contacts_error() -> None:
    personal = steps("x" * 1000 + "{attr.nota}", media_type="photo")
    assert isinstance(personal, Personalizer)
    [photo] = personal.steps_for(ContactValues(attributes={"nota": "curta"}))
    assert photo.method == "sendPhoto"
    with pytest.raises(TooLongError, match=r"1030 characters .* at most 1024"):
        personal.steps_for(ContactValues(attributes={"nota": "y" * 30}))
