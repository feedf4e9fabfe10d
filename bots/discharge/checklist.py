"""A patient's discharge checklist: answers, assignments, due times, what blocks the discharge.
Pure: no I/O, no clock (the caller passes `now`); every change returns a new checklist.

Due times are wall-clock times in the ward's zone (Europe/Paris), anchored on the admission date
(`A+n`) or the planned discharge date (`J-n`); moving the discharge date moves the `J` items.
The rules (NA, late answers, what blocks, compliance, the lettre de liaison) are
docs/CLINICAL.md §2.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from bots.common.dates import wall_clock
from bots.discharge.template import Due, Item, Template
from bots.episode.risk import UNKNOWN_AS, Risk
from bots.runtime.i18n import Refusal

Answer = Literal["oui", "non", "na"]
ANSWERS: tuple[Answer, ...] = ("oui", "non", "na")
MAX_COMMENT = 500


class ChecklistError(Refusal):
    """A change that cannot be made; the key (texts) and values say why."""


@dataclass(frozen=True)
class ItemState:
    answer: Answer | None = None
    by: str | None = None
    at: datetime | None = None
    comment: str | None = None
    assignee: str | None = None
    late: bool = False  # an item that cannot be remedied, answered after its due time


@dataclass(frozen=True)
class Override:
    """A physician's decision to validate the discharge despite blocking items."""

    by: str
    at: datetime
    reason: str
    items: tuple[int, ...]


@dataclass(frozen=True)
class Checklist:
    template: Template
    zone: ZoneInfo
    discharge: date  # planned discharge date (J0)
    admission: date | None = None
    risk: Risk | None = None  # the episode's level (bots/episode); None: unknown
    states: Mapping[int, ItemState] = field(default_factory=dict)
    validated_at: datetime | None = None
    discharged_on: date | None = None  # the actual discharge date, recorded at validation
    override: Override | None = None

    @property
    def high_risk(self) -> bool:
        """High, or unknown (treated as high until a score or a level says otherwise)."""
        return (self.risk or UNKNOWN_AS) == "eleve"

    @property
    def letter_sent(self) -> bool:
        letter = self.template.letter
        return letter is None or self.state(letter.id).answer == "oui"

    @property
    def letter_at(self) -> datetime | None:
        """When the letter's item was answered Oui (None: not sent, or no letter item)."""
        letter = self.template.letter
        state = self.state(letter.id) if letter is not None else ItemState()
        return state.at if state.answer == "oui" else None

    def state(self, item_id: int) -> ItemState:
        return self.states.get(item_id, ItemState())

    def item(self, item_id: int) -> Item:
        item = self.template.item(item_id)
        if item is None:
            raise ChecklistError("checklist.unknown_item", item=item_id,
                                 last=max(i.id for i in self.template.items))
        return item

    # --- time ------------------------------------------------------------------------------

    def due_at(self, due: Due) -> datetime | None:
        """When an item is due, as an aware time in the ward's zone; None for an `A` item when
        the admission date is unknown."""
        anchor = self.discharge if due.anchor == "J" else self.admission
        if anchor is None:
            return None
        return wall_clock(anchor + timedelta(days=due.days), due.at, self.zone)

    def overdue(self, now: datetime) -> list[Item]:
        """Items still unanswered after their due time."""
        return [item for item in self.template.items
                if self.state(item.id).answer is None
                and (due := self.due_at(item.due)) is not None and due <= now]

    # --- changes ---------------------------------------------------------------------------

    def answer(self, item_id: int, answer: Answer, *, by: str, at: datetime,
               comment: str | None = None) -> Checklist:
        item = self.item(item_id)
        if not item.letter:  # the letter's obligation outlives the validation
            self._open()
        if answer not in ANSWERS:
            raise ChecklistError("checklist.bad_answer", value=answer)
        if answer == "na" and item.letter:
            raise ChecklistError("checklist.na_letter", item=item_id)
        if answer == "na" and not item.na_allowed:
            raise ChecklistError("checklist.na_forbidden", item=item_id)
        comment = " ".join(comment.split()) if comment else None
        if comment and len(comment) > MAX_COMMENT:
            raise ChecklistError("checklist.comment_too_long", max=MAX_COMMENT)
        due = self.due_at(item.due)
        late = not item.remediable and due is not None and at > due
        state = replace(self.state(item_id), answer=answer, by=by, at=at, comment=comment,
                        late=late)
        return replace(self, states={**self.states, item_id: state})

    def assign(self, item_id: int, user_id: str) -> Checklist:
        self._open()
        self.item(item_id)
        state = replace(self.state(item_id), assignee=user_id)
        return replace(self, states={**self.states, item_id: state})

    def with_risk(self, risk: Risk) -> Checklist:
        self._open()
        return replace(self, risk=risk)

    def move(self, discharge: date) -> Checklist:
        """A new planned discharge date; earlier or later, the `J` items follow."""
        self._open()
        if self.admission is not None and discharge < self.admission:
            raise ChecklistError("checklist.before_admission", date=discharge.isoformat())
        return replace(self, discharge=discharge)

    def blockers(self) -> list[Item]:
        """Blocking items unanswered or answered "non", and items that cannot be remedied left
        unanswered (a "Non" on them cannot be fixed at discharge: it does not block)."""
        blocked = []
        for item in self.template.items:
            answer = self.state(item.id).answer
            if not item.remediable and answer is None or \
                    item.remediable and item.blocking and answer in (None, "non"):
                blocked.append(item)
        return blocked

    @property
    def compliant(self) -> bool:
        """Complete and on time: every item answered "Oui" or "NA", none of those that cannot
        be remedied answered late."""
        return all(self.state(i.id).answer in ("oui", "na") and not self.state(i.id).late
                   for i in self.template.items)

    def validate(self, *, by: str, at: datetime, physician: bool,
                 reason: str | None = None, on: date | None = None) -> Checklist:
        """Discharge done (on `on`, default the day of `at`). Refused while items block, unless
        a physician gives a reason."""
        self._open()
        on = on or at.astimezone(self.zone).date()
        if self.admission is not None and on < self.admission:
            raise ChecklistError("checklist.before_admission", date=on.isoformat())
        blockers = [i.id for i in self.blockers()]
        override = None
        if blockers:
            if not physician:
                raise ChecklistError("checklist.blocked", items=blockers)
            if not reason or not reason.strip():
                raise ChecklistError("checklist.override_needs_reason", items=blockers)
            override = Override(by=by, at=at, reason=" ".join(reason.split()),
                                items=tuple(blockers))
        return replace(self, validated_at=at, discharged_on=on, override=override)

    def escalations(self, now: datetime) -> list[Item]:
        """From J0, for a high-risk patient (or one whose risk is unknown): the items answered
        "non" that must reach the physician (docs/CLINICAL.md §2)."""
        if not self.high_risk or now.astimezone(self.zone).date() < self.discharge:
            return []
        return [item for item in self.template.items
                if item.escalate_if_no and self.state(item.id).answer == "non"]

    def _open(self) -> None:
        if self.validated_at is not None:
            raise ChecklistError("checklist.already_validated")


def may_answer(item: Item, role: str | None, *, any_item: bool = False,
               assigned: bool = False) -> bool:
    """The item's roles, whoever it is assigned to, and roles that may answer every item
    (`any_item`: physicians and coordinators in the default roles file)."""
    return assigned or (role is not None and (any_item or role in item.roles))
