"""The thread as text: what the drafting call reads (within budget, newest verbatim) and the verbatim note."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.thread_saves import (
    NOTE_LIMIT,
    OLDER_LINE_CHARS,
    TRANSCRIPT_CHARS,
    ThreadMessage,
    _draft_from,
    first_email,
    transcript,
    verbatim_note,
)


def _messages(count: int, size: int = 400) -> list[ThreadMessage]:
    return [
        ThreadMessage(f"1700000000.{n:06d}", f"Person {n % 7}", f"Message {n}: " + "x" * size) for n in range(count)
    ]


def test_a_long_thread_fits_the_budget_with_the_newest_messages_verbatim() -> None:
    messages = _messages(300)

    text = transcript(messages)

    assert len(text) <= TRANSCRIPT_CHARS
    assert text.endswith(messages[-1].line()) and messages[-2].line() in text  # newest, whole
    assert text.startswith("[") and "earlier messages left out]" in text.splitlines()[0]
    shortened = [line for line in text.splitlines()[1:] if line.endswith("…")]
    assert shortened and all(len(line) == OLDER_LINE_CHARS for line in shortened)


def test_a_short_thread_is_whole() -> None:
    messages = _messages(5, size=20)
    assert transcript(messages) == "\n".join(m.line() for m in messages)


def test_the_verbatim_note_says_how_many_messages_did_not_fit() -> None:
    messages = _messages(300)

    note = verbatim_note(messages)

    kept = note.splitlines()[:-1]
    assert len(note) <= NOTE_LIMIT and kept == [m.line() for m in messages[: len(kept)]]
    assert note.splitlines()[-1] == f"…and {300 - len(kept)} more messages"


@given(st.lists(st.text(min_size=0, max_size=5000), min_size=1, max_size=30))
def test_the_verbatim_note_never_exceeds_the_limit(texts: list[str]) -> None:
    messages = [ThreadMessage(f"1.{n}", "Someone", text) for n, text in enumerate(texts)]
    assert len(verbatim_note(messages)) <= NOTE_LIMIT


def test_external_authors_are_marked() -> None:
    assert ThreadMessage("1.1", "Pat", "Agreed", external=True).line() == "Pat (external): Agreed"


def test_the_first_email_in_the_thread_is_the_person() -> None:
    messages = [ThreadMessage("1.1", "Sam", "no address"), ThreadMessage("1.2", "Sam", "write to ada@x.example today")]
    assert first_email(messages) == "ada@x.example"


def test_a_draft_keeps_only_real_dates_and_non_empty_parts() -> None:
    draft = _draft_from({"note": " Note ", "tasks": [{"title": "A", "due_date": "2026-12-04"}, {"title": " "}, "x"]})
    assert (
        draft is not None and draft.note == "Note" and [(t.title, t.due) for t in draft.tasks] == [("A", "2026-12-04")]
    )
    assert _draft_from({"note": "", "tasks": []}) is None
