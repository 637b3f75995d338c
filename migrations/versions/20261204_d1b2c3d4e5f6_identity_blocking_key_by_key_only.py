"""identity blocking keys: no index on state_id, no foreign key to persons

Revision ID: d1b2c3d4e5f6
Revises: d0a1b2c3d4e5
Create Date: 2026-12-04 11:40:00

A statewide batch load writes eight or more blocking keys for every new person, and both of these
cost more than the keys' own primary key:
- the index on state_id was read only by a merge, to copy the retired ID's keys to the survivor.
  A merge now moves no keys: a look-up that reaches a retired ID follows merged_into to its
  survivor (services/identity/person_repository.py), which also leaves nothing to undo at a split;
- the foreign key checked each key row against identity_person and locked that row. Keys are
  derived from persons, which are never deleted, and are written only by the resolvers for
  persons they have just stored or hold.

Keys copied to survivors by earlier merges stay: they lead to the survivor, as before. Downgrade
puts the index and the foreign key back (every key's person exists); a merge made since has left
its retired ID's keys under that ID, which the code of the earlier revision does not follow.
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'd1b2c3d4e5f6'
down_revision: str | None = 'd0a1b2c3d4e5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FK = 'fk_identity_blocking_key_state_id_identity_person'
_INDEX = 'ix_identity_blocking_key_state_id'


def upgrade() -> None:
    with op.batch_alter_table('identity_blocking_key', schema=None) as batch_op:
        batch_op.drop_index(_INDEX)
        batch_op.drop_constraint(_FK, type_='foreignkey')


def downgrade() -> None:
    with op.batch_alter_table('identity_blocking_key', schema=None) as batch_op:
        batch_op.create_foreign_key(_FK, 'identity_person', ['state_id'], ['state_id'])
        batch_op.create_index(_INDEX, ['state_id'], unique=False)
