"""list indexes: work tags as rows, full-text search of titles and descriptions, a title sort

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 22:10:00.000000

The marketplace searched text with an unindexed LIKE over every work and tags with a LIKE on the
JSON column. Now:

- `work_tags` holds one row per (work, tag), kept equal to `works.tags` by triggers on both
  engines, so no writer can leave it behind; backfilled here.
- SQLite: `works_fts`, an FTS5 external-content table over `works` (title, description) with the
  trigram tokenizer, kept in step by triggers: a phrase of three or more characters matches any
  substring, Chinese included, case-insensitively.
- PostgreSQL: `pg_trgm` GIN indexes on title and description, which serve the same
  case-insensitive substring search (`ILIKE '%…%'`) in any script. A tsvector would split text
  into words, and a Chinese title, written without spaces, would be one word that no substring
  finds.

SQLite's batch mode rebuilds a table by dropping it, and its triggers with it: a later migration
that rebuilds `works` must run `_create_sqlite_triggers` (or its own copy) again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_TAG_ROWS = (
    "INSERT OR IGNORE INTO work_tags (work_id, tag) "
    "SELECT NEW.id, value FROM json_each(NEW.tags) WHERE type = 'text';"
)
_SQLITE_TRIGGERS = (
    "CREATE TRIGGER works_fts_after_insert AFTER INSERT ON works BEGIN "
    "INSERT INTO works_fts (rowid, title, description) "
    "VALUES (NEW.id, NEW.title, NEW.description); END",
    "CREATE TRIGGER works_fts_after_delete AFTER DELETE ON works BEGIN "
    "INSERT INTO works_fts (works_fts, rowid, title, description) "
    "VALUES ('delete', OLD.id, OLD.title, OLD.description); END",
    "CREATE TRIGGER works_fts_after_update AFTER UPDATE OF title, description ON works BEGIN "
    "INSERT INTO works_fts (works_fts, rowid, title, description) "
    "VALUES ('delete', OLD.id, OLD.title, OLD.description); "
    "INSERT INTO works_fts (rowid, title, description) "
    "VALUES (NEW.id, NEW.title, NEW.description); END",
    f"CREATE TRIGGER work_tags_after_insert AFTER INSERT ON works BEGIN {_SQLITE_TAG_ROWS} END",
    "CREATE TRIGGER work_tags_after_update AFTER UPDATE OF tags ON works BEGIN "
    f"DELETE FROM work_tags WHERE work_id = OLD.id; {_SQLITE_TAG_ROWS} END",
)
_POSTGRES_TAG_FUNCTION = """
CREATE FUNCTION copymark_sync_work_tags() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM work_tags WHERE work_id = OLD.id;
    END IF;
    INSERT INTO work_tags (work_id, tag)
    SELECT DISTINCT NEW.id, tag FROM json_array_elements_text(NEW.tags) AS tag
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$
"""


def upgrade() -> None:
    op.create_table('work_tags',
    sa.Column('work_id', sa.Integer(), nullable=False),
    sa.Column('tag', sa.String(), nullable=False),
    sa.ForeignKeyConstraint(['work_id'], ['works.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('work_id', 'tag')
    )
    with op.batch_alter_table('work_tags', schema=None) as batch_op:
        batch_op.create_index('ix_work_tags_tag_work', ['tag', 'work_id'], unique=False)
    with op.batch_alter_table('works', schema=None) as batch_op:
        batch_op.create_index('ix_works_listed_title', ['visibility', 'title', 'id', 'status'], unique=False)

    if op.get_bind().dialect.name == 'sqlite':
        op.execute(
            "CREATE VIRTUAL TABLE works_fts USING fts5(title, description, "
            "content='works', content_rowid='id', tokenize='trigram')"
        )
        op.execute("INSERT INTO works_fts (works_fts) VALUES ('rebuild')")
        op.execute(
            "INSERT OR IGNORE INTO work_tags (work_id, tag) "
            "SELECT works.id, tag.value FROM works, json_each(works.tags) AS tag "
            "WHERE tag.type = 'text'"
        )
        for trigger in _SQLITE_TRIGGERS:
            op.execute(trigger)
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_works_title_trgm ON works USING gin (title gin_trgm_ops)")
        op.execute(
            "CREATE INDEX ix_works_description_trgm ON works USING gin (description gin_trgm_ops)"
        )
        op.execute(
            "INSERT INTO work_tags (work_id, tag) "
            "SELECT DISTINCT works.id, tag FROM works, json_array_elements_text(works.tags) AS tag "
            "ON CONFLICT DO NOTHING"
        )
        op.execute(_POSTGRES_TAG_FUNCTION)
        op.execute(
            "CREATE TRIGGER work_tags_sync AFTER INSERT OR UPDATE OF tags ON works "
            "FOR EACH ROW EXECUTE FUNCTION copymark_sync_work_tags()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        for trigger in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger.split()[2]}")
        op.execute("DROP TABLE IF EXISTS works_fts")
    else:
        op.execute("DROP TRIGGER IF EXISTS work_tags_sync ON works")
        op.execute("DROP FUNCTION IF EXISTS copymark_sync_work_tags()")
        op.execute("DROP INDEX IF EXISTS ix_works_description_trgm")
        op.execute("DROP INDEX IF EXISTS ix_works_title_trgm")
    with op.batch_alter_table('works', schema=None) as batch_op:
        batch_op.drop_index('ix_works_listed_title')
    with op.batch_alter_table('work_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_work_tags_tag_work')
    op.drop_table('work_tags')
