"""identity persons aliases blocking keys reviews merges batches access log

Revision ID: 4c394410ea31
Revises: fc354d996e9f
Create Date: 2026-11-23 12:30:31.970083
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db


revision: str = '4c394410ea31'
down_revision: str | None = 'fc354d996e9f'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('identity_access_log',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_identity_access_log'))
    )
    op.create_table('identity_batch',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('submitted_by', sa.String(length=200), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=True),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('processed', sa.Integer(), nullable=False),
    sa.Column('finished_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_batch'))
    )
    with op.batch_alter_table('identity_batch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_batch_status'), ['status'], unique=False)
        batch_op.create_index('uq_identity_batch_idempotency', ['submitted_by', 'idempotency_key'], unique=True)

    op.create_table('identity_person',
    sa.Column('state_id', sa.String(length=10), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('middle_name', sa.String(length=100), nullable=True),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('suffix', sa.String(length=10), nullable=True),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('sex', sa.String(length=1), nullable=True),
    sa.Column('hispanic_latino', sa.Boolean(), nullable=True),
    sa.Column('races', sa.JSON(), nullable=False),
    sa.Column('guardian_names', sa.JSON(), nullable=False),
    sa.Column('ssn_hash', sa.String(length=64), nullable=True),
    sa.Column('birthplace', sa.String(length=200), nullable=True),
    sa.Column('address', sa.String(length=200), nullable=True),
    sa.Column('postal_code', sa.String(length=10), nullable=True),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('merged_into', sa.String(length=10), nullable=True),
    sa.Column('assigned_by_district', sa.String(length=32), nullable=True),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['merged_into'], ['identity_person.state_id'], name=op.f('fk_identity_person_merged_into_identity_person')),
    sa.PrimaryKeyConstraint('state_id', name=op.f('pk_identity_person'))
    )
    with op.batch_alter_table('identity_person', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_person_ssn_hash'), ['ssn_hash'], unique=False)

    op.create_table('identity_alias',
    sa.Column('district_id', sa.String(length=32), nullable=False),
    sa.Column('local_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('state_id', sa.String(length=10), nullable=False),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['state_id'], ['identity_person.state_id'], name=op.f('fk_identity_alias_state_id_identity_person')),
    sa.PrimaryKeyConstraint('district_id', 'local_id', 'kind', name=op.f('pk_identity_alias'))
    )
    with op.batch_alter_table('identity_alias', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_alias_state_id'), ['state_id'], unique=False)

    op.create_table('identity_batch_row',
    sa.Column('batch_id', sa.String(length=36), nullable=False),
    sa.Column('row_index', sa.Integer(), nullable=False),
    sa.Column('row_ref', sa.String(length=100), nullable=True),
    sa.Column('district_id', sa.String(length=32), nullable=True),
    sa.Column('local_id', sa.String(length=64), nullable=True),
    sa.Column('facts', sa.JSON(), nullable=True),
    sa.Column('done', sa.Boolean(), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=True),
    sa.Column('state_id', sa.String(length=10), nullable=True),
    sa.Column('review_id', sa.String(length=36), nullable=True),
    sa.Column('problem', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['identity_batch.id'], name=op.f('fk_identity_batch_row_batch_id_identity_batch')),
    sa.PrimaryKeyConstraint('batch_id', 'row_index', name=op.f('pk_identity_batch_row'))
    )
    op.create_table('identity_blocking_key',
    sa.Column('key', sa.String(length=96), nullable=False),
    sa.Column('state_id', sa.String(length=10), nullable=False),
    sa.ForeignKeyConstraint(['state_id'], ['identity_person.state_id'], name=op.f('fk_identity_blocking_key_state_id_identity_person')),
    sa.PrimaryKeyConstraint('key', 'state_id', name=op.f('pk_identity_blocking_key'))
    )
    with op.batch_alter_table('identity_blocking_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_blocking_key_state_id'), ['state_id'], unique=False)

    op.create_table('identity_id_event',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.Column('survivor_id', sa.String(length=10), nullable=False),
    sa.Column('retired_id', sa.String(length=10), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['retired_id'], ['identity_person.state_id'], name=op.f('fk_identity_id_event_retired_id_identity_person')),
    sa.ForeignKeyConstraint(['survivor_id'], ['identity_person.state_id'], name=op.f('fk_identity_id_event_survivor_id_identity_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_id_event'))
    )
    with op.batch_alter_table('identity_id_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_id_event_retired_id'), ['retired_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_id_event_survivor_id'), ['survivor_id'], unique=False)

    op.create_table('identity_review_item',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('district_id', sa.String(length=32), nullable=False),
    sa.Column('local_id', sa.String(length=64), nullable=False),
    sa.Column('submission', sa.JSON(), nullable=False),
    sa.Column('candidates', sa.JSON(), nullable=False),
    sa.Column('submitted_by', sa.String(length=200), nullable=False),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('decided_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('state_id', sa.String(length=10), nullable=True),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['state_id'], ['identity_person.state_id'], name=op.f('fk_identity_review_item_state_id_identity_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_review_item'))
    )
    with op.batch_alter_table('identity_review_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_review_item_status'), ['status'], unique=False)
        batch_op.create_index('ix_identity_review_item_submitter', ['district_id', 'local_id', 'status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('identity_review_item', schema=None) as batch_op:
        batch_op.drop_index('ix_identity_review_item_submitter')
        batch_op.drop_index(batch_op.f('ix_identity_review_item_status'))

    op.drop_table('identity_review_item')
    with op.batch_alter_table('identity_id_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_id_event_survivor_id'))
        batch_op.drop_index(batch_op.f('ix_identity_id_event_retired_id'))

    op.drop_table('identity_id_event')
    with op.batch_alter_table('identity_blocking_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_blocking_key_state_id'))

    op.drop_table('identity_blocking_key')
    op.drop_table('identity_batch_row')
    with op.batch_alter_table('identity_alias', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_alias_state_id'))

    op.drop_table('identity_alias')
    with op.batch_alter_table('identity_person', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_person_ssn_hash'))

    op.drop_table('identity_person')
    with op.batch_alter_table('identity_batch', schema=None) as batch_op:
        batch_op.drop_index('uq_identity_batch_idempotency')
        batch_op.drop_index(batch_op.f('ix_identity_batch_status'))

    op.drop_table('identity_batch')
    op.drop_table('identity_access_log')
