"""records items versions relationships access log

Revision ID: 68ff1d14dc6a
Revises: 4c394410ea31
Create Date: 2026-11-23 14:29:03.733796
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db
from sqlalchemy.dialects import postgresql

revision: str = '68ff1d14dc6a'
down_revision: str | None = '4c394410ea31'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('records_access_log',
    sa.Column('state_id', sa.String(length=16), nullable=True),
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_records_access_log'))
    )
    with op.batch_alter_table('records_access_log', schema=None) as batch_op:
        batch_op.create_index('ix_records_access_log_actor_at', ['actor', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_records_access_log_state_id'), ['state_id'], unique=False)

    op.create_table('records_caseload',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('district_id', sa.String(length=16), nullable=False),
    sa.Column('staff_id', sa.String(length=16), nullable=False),
    sa.Column('state_student_id', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('begin_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_records_caseload')),
    sa.UniqueConstraint('district_id', 'staff_id', 'state_student_id', 'kind', 'begin_date', name=op.f('uq_records_caseload_district_id'))
    )
    with op.batch_alter_table('records_caseload', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_records_caseload_staff_id'), ['staff_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_records_caseload_state_student_id'), ['state_student_id'], unique=False)

    op.create_table('records_class_section',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('district_id', sa.String(length=16), nullable=False),
    sa.Column('section_code', sa.String(length=64), nullable=False),
    sa.Column('school_id', sa.String(length=16), nullable=False),
    sa.Column('school_year', sa.String(length=9), nullable=False),
    sa.Column('course_code', sa.String(length=16), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('begin_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_records_class_section')),
    sa.UniqueConstraint('district_id', 'section_code', name=op.f('uq_records_class_section_district_id'))
    )
    op.create_table('records_enrollment',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('state_student_id', sa.String(length=16), nullable=False),
    sa.Column('item_id', sa.String(length=36), nullable=False),
    sa.Column('district_id', sa.String(length=16), nullable=False),
    sa.Column('school_id', sa.String(length=16), nullable=False),
    sa.Column('entry_date', sa.Date(), nullable=False),
    sa.Column('exit_date', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_records_enrollment'))
    )
    with op.batch_alter_table('records_enrollment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_records_enrollment_district_id'), ['district_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_records_enrollment_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_records_enrollment_school_id'), ['school_id'], unique=False)
        batch_op.create_index('ix_records_enrollment_student', ['state_student_id'], unique=False)

    op.create_table('records_idempotency',
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('headers', sa.JSON(), nullable=False),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('actor', 'key', name=op.f('pk_records_idempotency'))
    )
    op.create_table('records_item_version',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('item_id', sa.String(length=36), nullable=False),
    sa.Column('entity', sa.String(length=8), nullable=False),
    sa.Column('state_id', sa.String(length=16), nullable=False),
    sa.Column('section', sa.String(length=40), nullable=False),
    sa.Column('item_key', sa.String(length=400), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('operation', sa.String(length=16), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('district_id', sa.String(length=16), nullable=True),
    sa.Column('recorded_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('submission_id', sa.String(length=36), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_records_item_version'))
    )
    with op.batch_alter_table('records_item_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_records_item_version_item_id'), ['item_id'], unique=False)
        batch_op.create_index('ix_records_item_version_subject', ['entity', 'state_id', 'recorded_at'], unique=False)

    op.create_table('records_read_counter',
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('hour', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reads', sa.Integer(), nullable=False),
    sa.Column('alerted', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('actor', 'hour', name=op.f('pk_records_read_counter'))
    )
    op.create_table('records_student_plan',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('state_student_id', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('begin_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_records_student_plan'))
    )
    with op.batch_alter_table('records_student_plan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_records_student_plan_state_student_id'), ['state_student_id'], unique=False)

    op.create_table('records_subject',
    sa.Column('entity', sa.String(length=8), nullable=False),
    sa.Column('state_id', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('change_version', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('merged_into', sa.String(length=16), nullable=True),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('entity', 'state_id', name=op.f('pk_records_subject'))
    )
    op.create_table('records_submission',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('entity', sa.String(length=8), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('district_id', sa.String(length=16), nullable=True),
    sa.Column('received_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('accepted', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_records_submission'))
    )
    op.create_table('records_item',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('entity', sa.String(length=8), nullable=False),
    sa.Column('state_id', sa.String(length=16), nullable=False),
    sa.Column('section', sa.String(length=40), nullable=False),
    sa.Column('item_key', sa.String(length=400), nullable=False),
    sa.Column('district_id', sa.String(length=16), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('change_version', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('recorded_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('submission_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['entity', 'state_id'], ['records_subject.entity', 'records_subject.state_id'], name=op.f('fk_records_item_entity_records_subject')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_records_item')),
    sa.UniqueConstraint('entity', 'state_id', 'section', 'item_key', name=op.f('uq_records_item_entity'))
    )
    with op.batch_alter_table('records_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_records_item_change_version'), ['change_version'], unique=False)

    op.create_table('records_section_staff',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('class_section_id', sa.String(length=36), nullable=False),
    sa.Column('staff_id', sa.String(length=16), nullable=False),
    sa.Column('begin_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['class_section_id'], ['records_class_section.id'], name=op.f('fk_records_section_staff_class_section_id_records_class_section'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_records_section_staff'))
    )
    with op.batch_alter_table('records_section_staff', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_records_section_staff_class_section_id'), ['class_section_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_records_section_staff_staff_id'), ['staff_id'], unique=False)

    op.create_table('records_section_student',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('class_section_id', sa.String(length=36), nullable=False),
    sa.Column('state_student_id', sa.String(length=16), nullable=False),
    sa.Column('begin_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['class_section_id'], ['records_class_section.id'], name=op.f('fk_records_section_student_class_section_id_records_class_section'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_records_section_student'))
    )
    with op.batch_alter_table('records_section_student', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_records_section_student_class_section_id'), ['class_section_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_records_section_student_state_student_id'), ['state_student_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('records_section_student', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_records_section_student_state_student_id'))
        batch_op.drop_index(batch_op.f('ix_records_section_student_class_section_id'))

    op.drop_table('records_section_student')
    with op.batch_alter_table('records_section_staff', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_records_section_staff_staff_id'))
        batch_op.drop_index(batch_op.f('ix_records_section_staff_class_section_id'))

    op.drop_table('records_section_staff')
    with op.batch_alter_table('records_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_records_item_change_version'))

    op.drop_table('records_item')
    op.drop_table('records_submission')
    op.drop_table('records_subject')
    with op.batch_alter_table('records_student_plan', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_records_student_plan_state_student_id'))

    op.drop_table('records_student_plan')
    op.drop_table('records_read_counter')
    with op.batch_alter_table('records_item_version', schema=None) as batch_op:
        batch_op.drop_index('ix_records_item_version_subject')
        batch_op.drop_index(batch_op.f('ix_records_item_version_item_id'))

    op.drop_table('records_item_version')
    op.drop_table('records_idempotency')
    with op.batch_alter_table('records_enrollment', schema=None) as batch_op:
        batch_op.drop_index('ix_records_enrollment_student')
        batch_op.drop_index(batch_op.f('ix_records_enrollment_school_id'))
        batch_op.drop_index(batch_op.f('ix_records_enrollment_item_id'))
        batch_op.drop_index(batch_op.f('ix_records_enrollment_district_id'))

    op.drop_table('records_enrollment')
    op.drop_table('records_class_section')
    with op.batch_alter_table('records_caseload', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_records_caseload_state_student_id'))
        batch_op.drop_index(batch_op.f('ix_records_caseload_staff_id'))

    op.drop_table('records_caseload')
    with op.batch_alter_table('records_access_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_records_access_log_state_id'))
        batch_op.drop_index('ix_records_access_log_actor_at')

    op.drop_table('records_access_log')
