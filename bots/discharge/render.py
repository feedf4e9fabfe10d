"""The live checklist message: what the room sees at a glance, rebuilt after every change and
edited in place. Pure: a checklist and `now` in, escaped HTML out."""

from __future__ import annotations

from datetime import datetime

from bots.common.render import when
from bots.discharge.checklist import Checklist
from bots.discharge.template import Item
from bots.runtime.i18n import Lang, t
from bots.runtime.notice import Html, join

MARKS = {"oui": "✅", "non": "❌", "na": "➖", None: "⬜"}
LATE = "⏰"


def due_text(c: Checklist, item: Item, lang: Lang) -> str:
    due = c.due_at(item.due)
    return when(lang, due, c.zone) if due else t(lang, "checklist.no_due")


def _line(c: Checklist, item: Item, lang: Lang, late: set[int]) -> Html:
    state = c.state(item.id)
    if state.answer is not None:
        comment = t(lang, "checklist.comment", text=state.comment) if state.comment else ""
        status = t(lang, "checklist.answered", answer=t(lang, f"checklist.answer.{state.answer}"),
                   by=state.by or "?", at=when(lang, state.at, c.zone) if state.at else "?",
                   comment=comment)
        if state.late:
            status = Html(status + t(lang, "checklist.answered_late"))
        mark = MARKS[state.answer]
    else:
        due = c.due_at(item.due)
        assignee = t(lang, "checklist.assignee", user=state.assignee) if state.assignee else ""
        status = t(lang, "checklist.todo", roles=", ".join(item.roles),
                   due=when(lang, due, c.zone) if due else t(lang, "checklist.no_due"),
                   assignee=assignee)
        if item.id in late:
            status = Html(status + t(lang, "checklist.late"))
        mark = LATE if item.id in late else MARKS[None]
    return t(lang, "checklist.line", mark=mark, id=item.id, label=item.label(lang), state=status)


def render(c: Checklist, lang: Lang, now: datetime) -> Html:
    late = {i.id for i in c.overdue(now)}
    parts = [t(lang, "checklist.title", title=c.template.title(lang),
               discharge=when(lang, c.discharge),
               risk=t(lang, "checklist.risk", level=t(lang, f"risk.{c.risk}") if c.risk
                      else t(lang, "risk.unknown")))]
    for section in c.template.sections:
        parts.append(t(lang, "checklist.section", title=section.title(lang),
                       items=join([_line(c, item, lang, late) for item in section.items])))
    answered = sum(1 for i in c.template.items if c.state(i.id).answer is not None)
    blockers = [str(i.id) for i in c.blockers()]
    parts.append(t(lang, "checklist.footer", done=answered, total=len(c.template.items),
                   blocking=t(lang, "checklist.blocking", items=", ".join(blockers))
                   if blockers and c.validated_at is None else ""))
    if c.validated_at is not None:
        override = ""
        if c.override is not None:
            override = t(lang, "checklist.override", items=", ".join(map(str, c.override.items)),
                         by=c.override.by, reason=c.override.reason)
        parts.append(t(lang, "checklist.validated", at=when(lang, c.validated_at, c.zone),
                       override=override))
    return join(parts)
