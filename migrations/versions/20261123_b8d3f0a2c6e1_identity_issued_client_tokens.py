"""identity issued client tokens (live-token cap)

Revision ID: b8d3f0a2c6e1
Revises: a7c2e9f4b1d6
Create Date: 2026-11-23 18:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db


revision: str = 'b8d3f0a2c6e1'
down_revision: str | None = 'a7c2e9f4b1d6'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('identity_issued_client_token',
    sa.Column('jti', sa.String(length=100), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('issued_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('jti', name=op.f('pk_identity_issued_client_token'))
    )
    with op.batch_alter_table('identity_issued_client_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_issued_client_token_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_issued_client_token_subject'), ['subject'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('identity_issued_client_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_issued_client_token_subject'))
        batch_op.drop_index(batch_op.f('ix_identity_issued_client_token_expires_at'))
    op.drop_table('identity_issued_client_token')
