"""identity blocking keys: the birth date with a whole name code, and name-only keys for the undated

Revision ID: d0a1b2c3d4e5
Revises: c9c8d7e0a009
Create Date: 2026-12-03 09:10:00

The keys that joined a person's full birth date with a name's initial ("d|<yyyymmdd>|f:<initial>",
"d|...|l:<initial>") are replaced by keys that join it with the whole code of a name
("dn|<yyyymmdd>|<metaphone>"): a block of the old kind held every person of that date with that
initial (~20 at 1,000,000 persons, growing with the state), the new one those sharing the name's
sound. Persons stored without a birth date also get "xu|<name pair>" keys: a dated submission now
looks up those instead of "x|<name pair>", which every person holds (see
services/identity/matching/blocking.py).

Keys are recomputed from each active person's stored facts. Keys a person gained from other
spellings of matched submissions keep their other families ("n", "md", "ym", "k", "x"); their "d"
keys are dropped without a "dn" replacement (those spellings are not stored). Downgrade recomputes
the old "d" keys from the stored facts and drops "dn" and "xu".
"""
import json
from collections.abc import Iterator, Sequence
from datetime import date

import sqlalchemy as sa
from alembic import op

revision: str = 'd0a1b2c3d4e5'
down_revision: str | None = 'c9c8d7e0a009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PAGE = 5000
_PERSON = sa.table(
    'identity_person', sa.column('state_id', sa.String), sa.column('status', sa.String),
    sa.column('first_name', sa.String), sa.column('middle_name', sa.String), sa.column('last_name', sa.String),
    sa.column('suffix', sa.String), sa.column('birth_date', sa.Date), sa.column('sex', sa.String),
    sa.column('hispanic_latino', sa.Boolean), sa.column('races', sa.JSON), sa.column('guardian_names', sa.JSON),
    sa.column('ssn_hash', sa.String), sa.column('birthplace', sa.String), sa.column('address', sa.String),
    sa.column('postal_code', sa.String),
)
_INSERT = sa.text('INSERT INTO identity_blocking_key (key, state_id) VALUES (:key, :state_id) ON CONFLICT DO NOTHING')


def _list(value):
    return json.loads(value) if isinstance(value, str) else (value or [])


def _persons(bind) -> Iterator[list[tuple[str, object]]]:
    """Active persons as (state_id, PersonFacts), a page at a time, in state ID order."""
    from services.identity.matching import PersonFacts

    columns = [c for c in _PERSON.c if c.key != 'status']
    after = ''
    while True:
        rows = bind.execute(sa.select(*columns).where(_PERSON.c.status == 'active', _PERSON.c.state_id > after)
                            .order_by(_PERSON.c.state_id).limit(_PAGE)).all()
        if not rows:
            return
        page = []
        for (sid, first, middle, last, suffix, born, sex, hispanic, races, guardians, ssn, place, address,
             postal) in rows:
            if isinstance(born, str):
                born = date.fromisoformat(born[:10])
            page.append((sid, PersonFacts(
                first_name=first, middle_name=middle, last_name=last, suffix=suffix, birth_date=born, sex=sex,
                hispanic_latino=hispanic, races=frozenset(_list(races)), guardian_names=tuple(_list(guardians)),
                ssn_hash=ssn, birthplace=place, address=address, postal_code=postal)))
        yield page
        after = rows[-1][0]


def upgrade() -> None:
    from services.identity.matching import blocking_keys

    bind = op.get_bind()
    for page in _persons(bind):
        keys = [{'key': key, 'state_id': sid} for sid, facts in page for key in sorted(blocking_keys(facts))
                if key.startswith(('dn|', 'xu|'))]
        if keys:
            bind.execute(_INSERT, keys)
    bind.execute(sa.text("DELETE FROM identity_blocking_key WHERE key LIKE 'd|%'"))


def _initial_keys(facts) -> set[str]:
    """The "d" keys as blocking.py made them before this revision."""
    from services.identity.matching.features import given_name, surname
    from services.identity.matching.normalize import split_suffix

    first = given_name(facts.first_name)
    last = surname(split_suffix(facts.last_name)[0])
    dob = facts.birth_date
    if dob is None or (not first.compact and not last.compact):
        return set()
    initials = {f'l:{name[0]}' for name in {last.compact, *last.parts} - {''}}
    if first.compact:
        initials.add(f'f:{first.compact[0]}')
    days = [dob]
    if dob.day <= 12 and dob.day != dob.month:
        days.append(dob.replace(month=dob.day, day=dob.month))
    return {f'd|{day:%Y%m%d}|{initial}' for day in days for initial in initials}


def downgrade() -> None:
    bind = op.get_bind()
    for page in _persons(bind):
        keys = [{'key': key, 'state_id': sid} for sid, facts in page for key in sorted(_initial_keys(facts))]
        if keys:
            bind.execute(_INSERT, keys)
    bind.execute(sa.text("DELETE FROM identity_blocking_key WHERE key LIKE 'dn|%' OR key LIKE 'xu|%'"))
