"""people's requests with statutory clocks

Revision ID: c5e4b5c6d005
Revises: c4d3a6b5c004
Create Date: 2026-12-02 19:15:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = 'c5e4b5c6d005'
down_revision: str | None = 'c4d3a6b5c004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('records_inspection_request',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('state_student_id', sa.String(length=16), nullable=False),
    sa.Column('requested_by', sa.String(length=200), nullable=False),
    sa.Column('requester_role', sa.String(length=40), nullable=False),
    sa.Column('records_requested', sa.Text(), nullable=True),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('answered_on', sa.Date(), nullable=True),
    sa.Column('answered_by', sa.String(length=200), nullable=True),
    sa.Column('answerer_role', sa.String(length=40), nullable=True),
    sa.Column('available_on', sa.Date(), nullable=True),
    sa.Column('copies_provided', sa.Boolean(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_records_inspection_request'))
    )
    with op.batch_alter_table('records_inspection_request', schema=None) as batch_op:
        batch_op.create_index('ix_records_inspection_request_open', ['status', 'due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_records_inspection_request_requested_by'), ['requested_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_records_inspection_request_state_student_id'), ['state_student_id'], unique=False)

    op.create_table('records_inspection_request_scope',
    sa.Column('request_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['records_inspection_request.id'], name=op.f('fk_records_inspection_request_scope_request_id_records_inspection_request'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('request_id', 'kind', 'org_id', name=op.f('pk_records_inspection_request_scope'))
    )
    with op.batch_alter_table('records_inspection_request_scope', schema=None) as batch_op:
        batch_op.create_index('ix_records_inspection_request_scope_org', ['kind', 'org_id'], unique=False)

    op.create_table('disclosure_public_records_request',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('district_id', sa.String(length=16), nullable=True),
    sa.Column('requester_name', sa.String(length=200), nullable=False),
    sa.Column('requester_contact', sa.String(length=500), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('requested_format', sa.String(length=200), nullable=True),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('recorder_role', sa.String(length=40), nullable=False),
    sa.Column('first_acted_on', sa.Date(), nullable=True),
    sa.Column('delay_explanation', sa.Text(), nullable=True),
    sa.Column('available_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('available_place', sa.String(length=500), nullable=True),
    sa.Column('delayed_on', sa.Date(), nullable=True),
    sa.Column('delayed_by', sa.String(length=200), nullable=True),
    sa.Column('explanation', sa.Text(), nullable=True),
    sa.Column('exemption', sa.String(length=500), nullable=True),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('closed_by', sa.String(length=200), nullable=True),
    sa.Column('closer_role', sa.String(length=40), nullable=True),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosure_public_records_request'))
    )
    with op.batch_alter_table('disclosure_public_records_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disclosure_public_records_request_district_id'), ['district_id'], unique=False)
        batch_op.create_index('ix_disclosure_public_records_request_open', ['status', 'due_on'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('disclosure_public_records_request', schema=None) as batch_op:
        batch_op.drop_index('ix_disclosure_public_records_request_open')
        batch_op.drop_index(batch_op.f('ix_disclosure_public_records_request_district_id'))
    op.drop_table('disclosure_public_records_request')

    with op.batch_alter_table('records_inspection_request_scope', schema=None) as batch_op:
        batch_op.drop_index('ix_records_inspection_request_scope_org')
    op.drop_table('records_inspection_request_scope')

    with op.batch_alter_table('records_inspection_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_records_inspection_request_state_student_id'))
        batch_op.drop_index(batch_op.f('ix_records_inspection_request_requested_by'))
        batch_op.drop_index('ix_records_inspection_request_open')
    op.drop_table('records_inspection_request')
