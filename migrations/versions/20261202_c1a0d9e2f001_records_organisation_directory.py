"""records organisation directory

Revision ID: c1a0d9e2f001
Revises: b8d3f0a2c6e1
Create Date: 2026-12-02 19:15:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import shared.db

revision: str = 'c1a0d9e2f001'
down_revision: str | None = 'b8d3f0a2c6e1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('records_organisation',
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('parent_code', sa.String(length=16), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('org_type', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('entry', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_code'], ['records_organisation.code'], name=op.f('fk_records_organisation_parent_code_records_organisation')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_records_organisation'))
    )
    with op.batch_alter_table('records_organisation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_records_organisation_parent_code'), ['parent_code'], unique=False)

    op.create_table('records_organisation_version',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('operation', sa.String(length=8), nullable=False),
    sa.Column('entry', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('changed', sa.JSON(), nullable=False),
    sa.Column('recorded_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('recorded_role', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_records_organisation_version')),
    sa.UniqueConstraint('code', 'version', name=op.f('uq_records_organisation_version_code'))
    )


def downgrade() -> None:
    op.drop_table('records_organisation_version')
    with op.batch_alter_table('records_organisation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_records_organisation_parent_code'))
    op.drop_table('records_organisation')
