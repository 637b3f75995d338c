"""records access requests

Revision ID: c3c2f7a4b003
Revises: c2b1e8f3a002
Create Date: 2026-12-02 19:15:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = 'c3c2f7a4b003'
down_revision: str | None = 'c2b1e8f3a002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('records_access_request',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('requested_by', sa.String(length=200), nullable=False),
    sa.Column('requester_role', sa.String(length=40), nullable=False),
    sa.Column('district_id', sa.String(length=16), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('student_ids', sa.JSON(), nullable=False),
    sa.Column('school_ids', sa.JSON(), nullable=False),
    sa.Column('need', sa.Text(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('decider_role', sa.String(length=40), nullable=True),
    sa.Column('decided_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('granted_fields', sa.JSON(), nullable=True),
    sa.Column('granted_student_ids', sa.JSON(), nullable=True),
    sa.Column('granted_school_ids', sa.JSON(), nullable=True),
    sa.Column('granted_ends_on', sa.Date(), nullable=True),
    sa.Column('revocation_reason', sa.Text(), nullable=True),
    sa.Column('revoked_by', sa.String(length=200), nullable=True),
    sa.Column('revoked_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_records_access_request'))
    )
    with op.batch_alter_table('records_access_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_records_access_request_district_id'), ['district_id'], unique=False)
        batch_op.create_index('ix_records_access_request_in_force', ['requested_by', 'status', 'granted_ends_on'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('records_access_request', schema=None) as batch_op:
        batch_op.drop_index('ix_records_access_request_in_force')
        batch_op.drop_index(batch_op.f('ix_records_access_request_district_id'))
    op.drop_table('records_access_request')
