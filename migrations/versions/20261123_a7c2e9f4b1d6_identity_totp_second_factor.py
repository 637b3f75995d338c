"""identity totp second factor

Revision ID: a7c2e9f4b1d6
Revises: e4b7d2a1c9f3
Create Date: 2026-11-23 18:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db


revision: str = 'a7c2e9f4b1d6'
down_revision: str | None = 'e4b7d2a1c9f3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('identity_user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_secret_sealed', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('totp_confirmed_at', shared.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('identity_user_account', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_confirmed_at')
        batch_op.drop_column('totp_secret_sealed')
