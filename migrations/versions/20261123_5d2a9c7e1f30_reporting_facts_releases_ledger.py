"""reporting: de-identified student fact table (written by records), releases, release ledger

Revision ID: 5d2a9c7e1f30
Revises: 073fe92dddf3
Create Date: 2026-11-23 18:05:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import shared.db

revision: str = '5d2a9c7e1f30'
down_revision: str | None = '073fe92dddf3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Document = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('reporting_student_fact',
    sa.Column('school_year', sa.String(length=9), nullable=False),
    sa.Column('student_key', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=2), nullable=False),
    sa.Column('district_id', sa.String(length=16), nullable=False),
    sa.Column('school_id', sa.String(length=16), nullable=False),
    sa.Column('grade_level', sa.String(length=2), nullable=True),
    sa.Column('sex', sa.String(length=1), nullable=True),
    sa.Column('race_ethnicity', sa.String(length=3), nullable=True),
    sa.Column('english_learner', sa.Boolean(), nullable=False),
    sa.Column('special_education', sa.Boolean(), nullable=False),
    sa.Column('free_reduced_lunch', sa.Boolean(), nullable=False),
    sa.Column('migrant', sa.Boolean(), nullable=False),
    sa.Column('ela_proficient', sa.Boolean(), nullable=True),
    sa.Column('math_proficient', sa.Boolean(), nullable=True),
    sa.Column('attendance_rate', sa.Float(), nullable=True),
    sa.Column('chronically_absent', sa.Boolean(), nullable=True),
    sa.Column('discipline_incidents', sa.Integer(), nullable=False),
    sa.Column('graduation_cohort', sa.Boolean(), nullable=False),
    sa.Column('graduated', sa.Boolean(), nullable=True),
    sa.Column('refreshed_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('school_year', 'student_key')
    )
    op.create_index('ix_reporting_student_fact_year_school', 'reporting_student_fact',
                    ['school_year', 'school_id'], unique=False)
    op.create_table('reporting_release',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('measure', sa.String(length=64), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('dimension', sa.String(length=32), nullable=False),
    sa.Column('school_year', sa.String(length=9), nullable=False),
    sa.Column('population_key', sa.String(length=200), nullable=False),
    sa.Column('policy_code', sa.String(length=40), nullable=False),
    sa.Column('policy_version', sa.String(length=20), nullable=False),
    sa.Column('definitions_version', sa.String(length=20), nullable=False),
    sa.Column('definitions', Document, nullable=False),
    sa.Column('data_as_of', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('released_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('released_by', sa.String(length=200), nullable=False),
    sa.Column('audit', Document, nullable=False),
    sa.Column('table', Document, nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_reporting_release_lookup', 'reporting_release',
                    ['measure', 'level', 'dimension', 'school_year'], unique=False)
    op.create_index(op.f('ix_reporting_release_population_key'), 'reporting_release',
                    ['population_key'], unique=False)
    op.create_table('reporting_ledger_cell',
    sa.Column('release_id', sa.String(length=36), nullable=False),
    sa.Column('cell_id', sa.String(length=120), nullable=False),
    sa.Column('population_key', sa.String(length=200), nullable=False),
    sa.Column('measure', sa.String(length=64), nullable=False),
    sa.Column('known', Document, nullable=False),
    sa.ForeignKeyConstraint(['release_id'], ['reporting_release.id'], ),
    sa.PrimaryKeyConstraint('release_id', 'cell_id')
    )
    op.create_index('ix_reporting_ledger_population', 'reporting_ledger_cell',
                    ['population_key', 'cell_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_reporting_ledger_population', table_name='reporting_ledger_cell')
    op.drop_table('reporting_ledger_cell')
    op.drop_index(op.f('ix_reporting_release_population_key'), table_name='reporting_release')
    op.drop_index('ix_reporting_release_lookup', table_name='reporting_release')
    op.drop_table('reporting_release')
    op.drop_index('ix_reporting_student_fact_year_school', table_name='reporting_student_fact')
    op.drop_table('reporting_student_fact')
