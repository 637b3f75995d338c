"""identity nda and training clearance

Revision ID: c2b1e8f3a002
Revises: c1a0d9e2f001
Create Date: 2026-12-02 19:15:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db


revision: str = 'c2b1e8f3a002'
down_revision: str | None = 'c1a0d9e2f001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('identity_nda_signature',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('agreement_version', sa.String(length=50), nullable=False),
    sa.Column('signed_on', sa.Date(), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('recorded_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['identity_user_account.id'],
                            name=op.f('fk_identity_nda_signature_user_id_identity_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_nda_signature'))
    )
    with op.batch_alter_table('identity_nda_signature', schema=None) as batch_op:
        batch_op.create_index('ix_identity_nda_signature_user', ['user_id', 'signed_on'], unique=False)

    op.create_table('identity_training_completion',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('course', sa.String(length=200), nullable=False),
    sa.Column('course_version', sa.String(length=50), nullable=False),
    sa.Column('completed_on', sa.Date(), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('recorded_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['identity_user_account.id'],
                            name=op.f('fk_identity_training_completion_user_id_identity_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_training_completion'))
    )
    with op.batch_alter_table('identity_training_completion', schema=None) as batch_op:
        batch_op.create_index('ix_identity_training_completion_user', ['user_id', 'completed_on'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('identity_training_completion', schema=None) as batch_op:
        batch_op.drop_index('ix_identity_training_completion_user')
    op.drop_table('identity_training_completion')
    with op.batch_alter_table('identity_nda_signature', schema=None) as batch_op:
        batch_op.drop_index('ix_identity_nda_signature_user')
    op.drop_table('identity_nda_signature')
