"""reporting de-identified extracts

Revision ID: c8b7e6f9a008
Revises: c7a6d5e8f007
Create Date: 2026-12-02 19:55:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import shared.db

Document = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


revision: str = 'c8b7e6f9a008'
down_revision: str | None = 'c7a6d5e8f007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('reporting_extract_release',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('agreement_id', sa.String(length=36), nullable=False),
    sa.Column('data_request_id', sa.String(length=36), nullable=True),
    sa.Column('requested_by', sa.String(length=200), nullable=False),
    sa.Column('organisation', sa.String(length=200), nullable=False),
    sa.Column('legal_basis', sa.String(length=40), nullable=False),
    sa.Column('k', sa.Integer(), nullable=False),
    sa.Column('population', Document, nullable=False),
    sa.Column('columns', Document, nullable=False),
    sa.Column('generalisation', Document, nullable=False),
    sa.Column('fields_released', Document, nullable=False),
    sa.Column('rows_released', sa.Integer(), nullable=False),
    sa.Column('rows_suppressed', sa.Integer(), nullable=False),
    sa.Column('students_released', sa.Integer(), nullable=False),
    sa.Column('disclosure_seq', sa.BigInteger(), nullable=False),
    sa.Column('data_as_of', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('released_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reporting_extract_release'))
    )
    with op.batch_alter_table('reporting_extract_release', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reporting_extract_release_agreement_id'), ['agreement_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reporting_extract_release_requested_by'), ['requested_by'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('reporting_extract_release', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reporting_extract_release_requested_by'))
        batch_op.drop_index(batch_op.f('ix_reporting_extract_release_agreement_id'))
    op.drop_table('reporting_extract_release')
