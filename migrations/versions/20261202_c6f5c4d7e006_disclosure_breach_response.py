"""disclosure breach response

Revision ID: c6f5c4d7e006
Revises: c5e4b5c6d005
Create Date: 2026-12-02 19:15:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = 'c6f5c4d7e006'
down_revision: str | None = 'c5e4b5c6d005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('disclosure_breach',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('reported_by', sa.String(length=200), nullable=False),
    sa.Column('reporter_role', sa.String(length=64), nullable=False),
    sa.Column('discovered_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('suspected_subjects', sa.JSON(), nullable=False),
    sa.Column('window_start', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('window_end', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('involves_security_manager', sa.Boolean(), nullable=False),
    sa.Column('routed_to', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('exposure_computed_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('suspended_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('breach_confirmed', sa.Boolean(), nullable=True),
    sa.Column('findings', sa.Text(), nullable=True),
    sa.Column('consequences', sa.Text(), nullable=True),
    sa.Column('closed_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.String(length=200), nullable=True),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosure_breach'))
    )
    with op.batch_alter_table('disclosure_breach', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disclosure_breach_routed_to'), ['routed_to'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosure_breach_status'), ['status'], unique=False)

    op.create_table('disclosure_breach_exposure',
    sa.Column('breach_id', sa.String(length=36), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('state_student_id', sa.String(length=16), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('actions', sa.JSON(), nullable=False),
    sa.Column('sources', sa.JSON(), nullable=False),
    sa.Column('first_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['breach_id'], ['disclosure_breach.id'], name=op.f('fk_disclosure_breach_exposure_breach_id_disclosure_breach')),
    sa.PrimaryKeyConstraint('breach_id', 'subject', 'state_student_id', name=op.f('pk_disclosure_breach_exposure'))
    )
    with op.batch_alter_table('disclosure_breach_exposure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disclosure_breach_exposure_state_student_id'), ['state_student_id'], unique=False)

    op.create_table('disclosure_breach_event',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('breach_id', sa.String(length=36), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('actor_role', sa.String(length=64), nullable=False),
    sa.Column('at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['breach_id'], ['disclosure_breach.id'], name=op.f('fk_disclosure_breach_event_breach_id_disclosure_breach')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosure_breach_event'))
    )
    with op.batch_alter_table('disclosure_breach_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disclosure_breach_event_actor'), ['actor'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosure_breach_event_breach_id'), ['breach_id'], unique=False)

    op.create_table('disclosure_breach_notification',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('breach_id', sa.String(length=36), nullable=False),
    sa.Column('state_student_id', sa.String(length=16), nullable=False),
    sa.Column('recipient', sa.String(length=32), nullable=False),
    sa.Column('recipient_name', sa.String(length=200), nullable=True),
    sa.Column('method', sa.String(length=32), nullable=False),
    sa.Column('notified_on', sa.Date(), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('recorded_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['breach_id'], ['disclosure_breach.id'], name=op.f('fk_disclosure_breach_notification_breach_id_disclosure_breach')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosure_breach_notification'))
    )
    with op.batch_alter_table('disclosure_breach_notification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disclosure_breach_notification_breach_id'), ['breach_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('disclosure_breach_notification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disclosure_breach_notification_breach_id'))
    op.drop_table('disclosure_breach_notification')
    with op.batch_alter_table('disclosure_breach_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disclosure_breach_event_breach_id'))
        batch_op.drop_index(batch_op.f('ix_disclosure_breach_event_actor'))
    op.drop_table('disclosure_breach_event')
    with op.batch_alter_table('disclosure_breach_exposure', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disclosure_breach_exposure_state_student_id'))
    op.drop_table('disclosure_breach_exposure')
    with op.batch_alter_table('disclosure_breach', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disclosure_breach_status'))
        batch_op.drop_index(batch_op.f('ix_disclosure_breach_routed_to'))
    op.drop_table('disclosure_breach')
