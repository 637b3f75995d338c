"""records amendments expungement

Revision ID: f8e78505db6d
Revises: 68ff1d14dc6a
Create Date: 2026-11-23 14:34:13.402012
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db


revision: str = 'f8e78505db6d'
down_revision: str | None = '68ff1d14dc6a'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('records_amendment_request',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('state_student_id', sa.String(length=16), nullable=False),
    sa.Column('requested_by', sa.String(length=200), nullable=False),
    sa.Column('requester_role', sa.String(length=40), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('decided_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('hearing_requested_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('hearing_reason', sa.Text(), nullable=True),
    sa.Column('hearing_decided_by', sa.String(length=200), nullable=True),
    sa.Column('hearing_decided_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_records_amendment_request'))
    )
    with op.batch_alter_table('records_amendment_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_records_amendment_request_state_student_id'), ['state_student_id'], unique=False)

    op.create_table('records_archive_state',
    sa.Column('state_student_id', sa.String(length=16), nullable=False),
    sa.Column('archived_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('destroyed_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('state_student_id', name=op.f('pk_records_archive_state'))
    )
    op.create_table('records_expungement_request',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('state_student_id', sa.String(length=16), nullable=False),
    sa.Column('requested_by', sa.String(length=200), nullable=False),
    sa.Column('sections', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('decided_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_records_expungement_request'))
    )
    with op.batch_alter_table('records_expungement_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_records_expungement_request_state_student_id'), ['state_student_id'], unique=False)

    op.create_table('records_statement_of_disagreement',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('amendment_request_id', sa.String(length=36), nullable=False),
    sa.Column('state_student_id', sa.String(length=16), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('filed_by', sa.String(length=200), nullable=False),
    sa.Column('filed_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['amendment_request_id'], ['records_amendment_request.id'], name=op.f('fk_records_statement_of_disagreement_amendment_request_id_records_amendment_request'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_records_statement_of_disagreement')),
    sa.UniqueConstraint('amendment_request_id', name=op.f('uq_records_statement_of_disagreement_amendment_request_id'))
    )
    with op.batch_alter_table('records_statement_of_disagreement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_records_statement_of_disagreement_state_student_id'), ['state_student_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('records_statement_of_disagreement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_records_statement_of_disagreement_state_student_id'))

    op.drop_table('records_statement_of_disagreement')
    with op.batch_alter_table('records_expungement_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_records_expungement_request_state_student_id'))

    op.drop_table('records_expungement_request')
    op.drop_table('records_archive_state')
    with op.batch_alter_table('records_amendment_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_records_amendment_request_state_student_id'))

    op.drop_table('records_amendment_request')
