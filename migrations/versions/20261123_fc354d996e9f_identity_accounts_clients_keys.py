"""identity accounts clients keys

Revision ID: fc354d996e9f
Revises: 
Create Date: 2026-11-23 11:45:50.393843
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db


revision: str = 'fc354d996e9f'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('identity_client_app',
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('secret_hash', sa.String(length=128), nullable=False),
    sa.Column('last_used_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('role', sa.String(length=64), nullable=False),
    sa.Column('state_code', sa.String(length=8), nullable=True),
    sa.Column('district_ids', sa.JSON(), nullable=False),
    sa.Column('school_ids', sa.JSON(), nullable=False),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('client_id', name=op.f('pk_identity_client_app'))
    )
    op.create_table('identity_revoked_token',
    sa.Column('jti', sa.String(length=100), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('expires_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('jti', name=op.f('pk_identity_revoked_token'))
    )
    with op.batch_alter_table('identity_revoked_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_revoked_token_expires_at'), ['expires_at'], unique=False)

    op.create_table('identity_signing_key',
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('algorithm', sa.String(length=16), nullable=False),
    sa.Column('private_pem_encrypted', sa.Text(), nullable=False),
    sa.Column('public_jwk', sa.JSON(), nullable=False),
    sa.Column('retired_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('kid', name=op.f('pk_identity_signing_key'))
    )
    op.create_table('identity_user_account',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('username', sa.String(length=150), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('password_changed_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('staff_id', sa.String(length=32), nullable=True),
    sa.Column('student_ids', sa.JSON(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_login_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('disabled_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('role', sa.String(length=64), nullable=False),
    sa.Column('state_code', sa.String(length=8), nullable=True),
    sa.Column('district_ids', sa.JSON(), nullable=False),
    sa.Column('school_ids', sa.JSON(), nullable=False),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_user_account')),
    sa.UniqueConstraint('username', name=op.f('uq_identity_user_account_username'))
    )


def downgrade() -> None:
    op.drop_table('identity_user_account')
    op.drop_table('identity_signing_key')
    with op.batch_alter_table('identity_revoked_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_revoked_token_expires_at'))

    op.drop_table('identity_revoked_token')
    op.drop_table('identity_client_app')
