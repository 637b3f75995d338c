"""disclosure log agreements requests consents bans

Revision ID: 073fe92dddf3
Revises: f8e78505db6d
Create Date: 2026-11-23 14:51:32.423546
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db


revision: str = '073fe92dddf3'
down_revision: str | None = 'f8e78505db6d'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('disclosure_agreement',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('organisation', sa.String(length=200), nullable=False),
    sa.Column('organisation_key', sa.String(length=200), nullable=False),
    sa.Column('contact_name', sa.String(length=200), nullable=False),
    sa.Column('contact_email', sa.String(length=320), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('legal_basis', sa.String(length=40), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('student_ids', sa.JSON(), nullable=False),
    sa.Column('district_ids', sa.JSON(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('destroy_by', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosure_agreement'))
    )
    with op.batch_alter_table('disclosure_agreement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disclosure_agreement_organisation_key'), ['organisation_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosure_agreement_status'), ['status'], unique=False)

    op.create_table('disclosure_ban',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organisation', sa.String(length=200), nullable=False),
    sa.Column('organisation_key', sa.String(length=200), nullable=False),
    sa.Column('subjects', sa.JSON(), nullable=False),
    sa.Column('finding', sa.Text(), nullable=False),
    sa.Column('found_on', sa.Date(), nullable=False),
    sa.Column('banned_until', sa.Date(), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('recorded_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosure_ban'))
    )
    with op.batch_alter_table('disclosure_ban', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disclosure_ban_banned_until'), ['banned_until'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosure_ban_organisation_key'), ['organisation_key'], unique=False)

    op.create_table('disclosure_consent',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('state_student_id', sa.String(length=16), nullable=False),
    sa.Column('given_by', sa.String(length=200), nullable=False),
    sa.Column('giver_role', sa.String(length=40), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('recipient_name', sa.String(length=200), nullable=False),
    sa.Column('recipient_organisation', sa.String(length=200), nullable=False),
    sa.Column('recipient_organisation_key', sa.String(length=200), nullable=False),
    sa.Column('recipient_subject', sa.String(length=200), nullable=True),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('signed_on', sa.Date(), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=False),
    sa.Column('revoked_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sa.String(length=200), nullable=True),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosure_consent'))
    )
    with op.batch_alter_table('disclosure_consent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disclosure_consent_state_student_id'), ['state_student_id'], unique=False)

    op.create_table('disclosure_log',
    sa.Column('party_subject', sa.String(length=200), nullable=True),
    sa.Column('legal_basis', sa.String(length=40), nullable=False),
    sa.Column('disclosed_on', sa.Date(), nullable=False),
    sa.Column('agreement_id', sa.String(length=36), nullable=True),
    sa.Column('consent_id', sa.String(length=36), nullable=True),
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_disclosure_log'))
    )
    with op.batch_alter_table('disclosure_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disclosure_log_agreement_id'), ['agreement_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosure_log_consent_id'), ['consent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosure_log_disclosed_on'), ['disclosed_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosure_log_party_subject'), ['party_subject'], unique=False)

    op.create_table('disclosure_agreement_event',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('agreement_id', sa.String(length=36), nullable=False),
    sa.Column('from_status', sa.String(length=32), nullable=True),
    sa.Column('to_status', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('actor_role', sa.String(length=64), nullable=False),
    sa.Column('at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['agreement_id'], ['disclosure_agreement.id'], name=op.f('fk_disclosure_agreement_event_agreement_id_disclosure_agreement')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosure_agreement_event'))
    )
    with op.batch_alter_table('disclosure_agreement_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disclosure_agreement_event_agreement_id'), ['agreement_id'], unique=False)

    op.create_table('disclosure_agreement_subject',
    sa.Column('agreement_id', sa.String(length=36), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['agreement_id'], ['disclosure_agreement.id'], name=op.f('fk_disclosure_agreement_subject_agreement_id_disclosure_agreement')),
    sa.PrimaryKeyConstraint('agreement_id', 'subject', name=op.f('pk_disclosure_agreement_subject'))
    )
    with op.batch_alter_table('disclosure_agreement_subject', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disclosure_agreement_subject_subject'), ['subject'], unique=False)

    op.create_table('disclosure_data_request',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('requester_name', sa.String(length=200), nullable=False),
    sa.Column('requester_organisation', sa.String(length=200), nullable=False),
    sa.Column('requester_subject', sa.String(length=200), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('risk_level', sa.String(length=8), nullable=False),
    sa.Column('agreement_id', sa.String(length=36), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('assigned_to', sa.String(length=200), nullable=True),
    sa.Column('fulfilled_by', sa.String(length=200), nullable=True),
    sa.Column('fulfilled_dataset_reference', sa.String(length=500), nullable=True),
    sa.Column('qa_by', sa.String(length=200), nullable=True),
    sa.Column('released_by', sa.String(length=200), nullable=True),
    sa.Column('released_dataset_reference', sa.String(length=500), nullable=True),
    sa.Column('released_on', sa.Date(), nullable=True),
    sa.Column('checklist_reliability', sa.Boolean(), nullable=True),
    sa.Column('checklist_validity', sa.Boolean(), nullable=True),
    sa.Column('checklist_presentation', sa.Boolean(), nullable=True),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agreement_id'], ['disclosure_agreement.id'], name=op.f('fk_disclosure_data_request_agreement_id_disclosure_agreement')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosure_data_request'))
    )
    with op.batch_alter_table('disclosure_data_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disclosure_data_request_requester_subject'), ['requester_subject'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosure_data_request_status'), ['status'], unique=False)

    op.create_table('disclosure_destruction_certificate',
    sa.Column('agreement_id', sa.String(length=36), nullable=False),
    sa.Column('destroyed_by', sa.String(length=200), nullable=False),
    sa.Column('destroyed_on', sa.Date(), nullable=False),
    sa.Column('method', sa.String(length=500), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('recorded_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agreement_id'], ['disclosure_agreement.id'], name=op.f('fk_disclosure_destruction_certificate_agreement_id_disclosure_agreement')),
    sa.PrimaryKeyConstraint('agreement_id', name=op.f('pk_disclosure_destruction_certificate'))
    )
    op.create_table('disclosure_idempotency',
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('entry_seq', sa.Integer(), nullable=False),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entry_seq'], ['disclosure_log.seq'], name=op.f('fk_disclosure_idempotency_entry_seq_disclosure_log')),
    sa.PrimaryKeyConstraint('actor', 'key', name=op.f('pk_disclosure_idempotency'))
    )
    op.create_table('disclosure_log_student',
    sa.Column('entry_seq', sa.Integer(), nullable=False),
    sa.Column('state_student_id', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['entry_seq'], ['disclosure_log.seq'], name=op.f('fk_disclosure_log_student_entry_seq_disclosure_log')),
    sa.PrimaryKeyConstraint('entry_seq', 'state_student_id', name=op.f('pk_disclosure_log_student'))
    )
    with op.batch_alter_table('disclosure_log_student', schema=None) as batch_op:
        batch_op.create_index('ix_disclosure_log_student_student', ['state_student_id', 'entry_seq'], unique=False)

    op.create_table('disclosure_publication',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('agreement_id', sa.String(length=36), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('planned_publication_date', sa.Date(), nullable=False),
    sa.Column('submitted_on', sa.Date(), nullable=False),
    sa.Column('due_by', sa.Date(), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('recorded_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agreement_id'], ['disclosure_agreement.id'], name=op.f('fk_disclosure_publication_agreement_id_disclosure_agreement')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosure_publication'))
    )
    with op.batch_alter_table('disclosure_publication', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disclosure_publication_agreement_id'), ['agreement_id'], unique=False)

    op.create_table('disclosure_data_request_event',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('data_request_id', sa.String(length=36), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('actor_role', sa.String(length=64), nullable=False),
    sa.Column('at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['data_request_id'], ['disclosure_data_request.id'], name=op.f('fk_disclosure_data_request_event_data_request_id_disclosure_data_request')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosure_data_request_event'))
    )
    with op.batch_alter_table('disclosure_data_request_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disclosure_data_request_event_data_request_id'), ['data_request_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('disclosure_data_request_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disclosure_data_request_event_data_request_id'))

    op.drop_table('disclosure_data_request_event')
    with op.batch_alter_table('disclosure_publication', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disclosure_publication_agreement_id'))

    op.drop_table('disclosure_publication')
    with op.batch_alter_table('disclosure_log_student', schema=None) as batch_op:
        batch_op.drop_index('ix_disclosure_log_student_student')

    op.drop_table('disclosure_log_student')
    op.drop_table('disclosure_idempotency')
    op.drop_table('disclosure_destruction_certificate')
    with op.batch_alter_table('disclosure_data_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disclosure_data_request_status'))
        batch_op.drop_index(batch_op.f('ix_disclosure_data_request_requester_subject'))

    op.drop_table('disclosure_data_request')
    with op.batch_alter_table('disclosure_agreement_subject', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disclosure_agreement_subject_subject'))

    op.drop_table('disclosure_agreement_subject')
    with op.batch_alter_table('disclosure_agreement_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disclosure_agreement_event_agreement_id'))

    op.drop_table('disclosure_agreement_event')
    with op.batch_alter_table('disclosure_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disclosure_log_party_subject'))
        batch_op.drop_index(batch_op.f('ix_disclosure_log_disclosed_on'))
        batch_op.drop_index(batch_op.f('ix_disclosure_log_consent_id'))
        batch_op.drop_index(batch_op.f('ix_disclosure_log_agreement_id'))

    op.drop_table('disclosure_log')
    with op.batch_alter_table('disclosure_consent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disclosure_consent_state_student_id'))

    op.drop_table('disclosure_consent')
    with op.batch_alter_table('disclosure_ban', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disclosure_ban_organisation_key'))
        batch_op.drop_index(batch_op.f('ix_disclosure_ban_banned_until'))

    op.drop_table('disclosure_ban')
    with op.batch_alter_table('disclosure_agreement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disclosure_agreement_status'))
        batch_op.drop_index(batch_op.f('ix_disclosure_agreement_organisation_key'))

    op.drop_table('disclosure_agreement')
