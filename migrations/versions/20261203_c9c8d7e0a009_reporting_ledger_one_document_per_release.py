"""reporting ledger: one document per release instead of one row per cell

Revision ID: c9c8d7e0a009
Revises: c8b7e6f9a008
Create Date: 2026-12-03 06:40:00

A statewide release has 17,608 cells; writing each as a row (primary key, population index,
foreign key check) took longer than storing the rest of the release. The knowledge is only ever
read whole, per population, so each release's cells are kept as one document keyed by cell id.
Existing ledgers are carried over (and back on downgrade).
"""
import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

Document = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


revision: str = 'c9c8d7e0a009'
down_revision: str | None = 'c8b7e6f9a008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _doc(value):
    return json.loads(value) if isinstance(value, str) else value


def upgrade() -> None:
    ledger = op.create_table('reporting_release_ledger',
    sa.Column('release_id', sa.String(length=36), nullable=False),
    sa.Column('population_key', sa.String(length=200), nullable=False),
    sa.Column('measure', sa.String(length=64), nullable=False),
    sa.Column('cells', Document, nullable=False),
    sa.ForeignKeyConstraint(['release_id'], ['reporting_release.id'], name=op.f('fk_reporting_release_ledger_release_id_reporting_release')),
    sa.PrimaryKeyConstraint('release_id', name=op.f('pk_reporting_release_ledger'))
    )
    op.create_index(op.f('ix_reporting_release_ledger_population_key'), 'reporting_release_ledger',
                    ['population_key'], unique=False)
    bind = op.get_bind()
    documents: dict[str, dict] = {}
    for release_id, cell_id, population_key, measure, known in bind.execute(sa.text(
            'SELECT release_id, cell_id, population_key, measure, known FROM reporting_ledger_cell')):
        doc = documents.setdefault(release_id, {'release_id': release_id, 'population_key': population_key,
                                                'measure': measure, 'cells': {}})
        doc['cells'][cell_id] = _doc(known)
    if documents:
        op.bulk_insert(ledger, list(documents.values()))
    op.drop_index('ix_reporting_ledger_population', table_name='reporting_ledger_cell')
    op.drop_table('reporting_ledger_cell')


def downgrade() -> None:
    cells = op.create_table('reporting_ledger_cell',
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
    rows = []
    for release_id, population_key, measure, doc in op.get_bind().execute(sa.text(
            'SELECT release_id, population_key, measure, cells FROM reporting_release_ledger')):
        rows += [{'release_id': release_id, 'cell_id': cell_id, 'population_key': population_key,
                  'measure': measure, 'known': known} for cell_id, known in _doc(doc).items()]
    if rows:
        op.bulk_insert(cells, rows)
    op.drop_index(op.f('ix_reporting_release_ledger_population_key'), table_name='reporting_release_ledger')
    op.drop_table('reporting_release_ledger')
