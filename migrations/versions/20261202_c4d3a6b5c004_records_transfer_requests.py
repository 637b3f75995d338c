"""records transfer requests

Revision ID: c4d3a6b5c004
Revises: c3c2f7a4b003
Create Date: 2026-12-02 19:15:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = 'c4d3a6b5c004'
down_revision: str | None = 'c3c2f7a4b003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('records_transfer_request',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('state_student_id', sa.String(length=16), nullable=False),
    sa.Column('requesting_district_id', sa.String(length=16), nullable=False),
    sa.Column('previous_district_id', sa.String(length=16), nullable=False),
    sa.Column('enrolled_on', sa.Date(), nullable=False),
    sa.Column('requested_on', sa.Date(), nullable=False),
    sa.Column('request_due_on', sa.Date(), nullable=False),
    sa.Column('answer_due_on', sa.Date(), nullable=False),
    sa.Column('requested_by', sa.String(length=200), nullable=False),
    sa.Column('requester_role', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('answered_on', sa.Date(), nullable=True),
    sa.Column('answered_by', sa.String(length=200), nullable=True),
    sa.Column('answerer_role', sa.String(length=40), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('sections_sent', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('refusal_reason', sa.Text(), nullable=True),
    sa.Column('disclosure_seq', sa.Integer(), nullable=True),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_records_transfer_request')),
    sa.UniqueConstraint('state_student_id', 'requesting_district_id', 'previous_district_id', 'enrolled_on',
                        name='uq_records_transfer_request_enrolment')
    )
    with op.batch_alter_table('records_transfer_request', schema=None) as batch_op:
        batch_op.create_index('ix_records_transfer_request_open', ['status', 'answer_due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_records_transfer_request_previous_district_id'), ['previous_district_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_records_transfer_request_requesting_district_id'), ['requesting_district_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_records_transfer_request_state_student_id'), ['state_student_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('records_transfer_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_records_transfer_request_state_student_id'))
        batch_op.drop_index(batch_op.f('ix_records_transfer_request_requesting_district_id'))
        batch_op.drop_index(batch_op.f('ix_records_transfer_request_previous_district_id'))
        batch_op.drop_index('ix_records_transfer_request_open')
    op.drop_table('records_transfer_request')
