"""The journal: entries partitioned by month, the chain head, checkpoints, archived months.

Revision ID: 0001
Revises:
"""

from alembic import context, op

revision = "0001"
INDEXED_PREFIX = 200
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    s = context.config.attributes.get("schema", "audit")
    op.execute(f"""
        CREATE TABLE "{s}".entry (
            seq bigint NOT NULL,
            recorded_at timestamptz NOT NULL,
            event_id text NOT NULL,
            occurred_at timestamptz NOT NULL,
            kind text NOT NULL,
            service text NOT NULL,
            action text NOT NULL,
            outcome text NOT NULL,
            actor_user_id text,
            actor_username text,
            actor_role text,
            actor_roles text,
            subject_bin text,
            client_id text,
            object_type text,
            object_id text,
            request_id text,
            source_ip text,
            before text,
            after text,
            details text,
            prev_hash bytea NOT NULL,
            hash bytea NOT NULL
        ) PARTITION BY RANGE (recorded_at)
    """)
    op.execute(f'CREATE INDEX ix_entry_seq ON "{s}".entry (seq)')
    op.execute(f'CREATE INDEX ix_entry_event_id ON "{s}".entry (event_id)')
    op.execute(f'CREATE INDEX ix_entry_occurred_at ON "{s}".entry (occurred_at)')
    # Free text (a request path can be kilobytes long) is indexed by its first 200 characters:
    # a b-tree entry has a size limit, and a journal that cannot write an entry must never happen.
    for name, column in (
        ("actor", "actor_username"),
        ("subject_bin", "subject_bin"),
        ("object", "object_id"),
    ):
        op.execute(
            f'CREATE INDEX ix_entry_{name} ON "{s}".entry (left({column}, {INDEXED_PREFIX}))'
        )
    op.execute(f"""
        CREATE TABLE "{s}".chain_head (
            id smallint PRIMARY KEY CHECK (id = 1),
            seq bigint NOT NULL,
            hash bytea NOT NULL,
            recorded_at timestamptz
        )
    """)
    op.execute(
        f"""INSERT INTO "{s}".chain_head (id, seq, hash) VALUES (1, 0, '\\x{"00" * 32}'::bytea)"""
    )
    op.execute(f"""
        CREATE TABLE "{s}".checkpoint (
            no bigint PRIMARY KEY,
            first_seq bigint NOT NULL,
            last_seq bigint NOT NULL,
            month date NOT NULL,
            root bytea NOT NULL,
            last_hash bytea NOT NULL,
            created_at timestamptz NOT NULL,
            object_key text NOT NULL,
            document text NOT NULL,
            CONSTRAINT uq_checkpoint_first_seq UNIQUE (first_seq)
        )
    """)
    op.execute(f"""
        CREATE TABLE "{s}".archive (
            month date PRIMARY KEY,
            first_seq bigint,
            last_seq bigint,
            entries bigint NOT NULL,
            last_hash bytea,
            manifest_key text NOT NULL,
            archived_at timestamptz NOT NULL
        )
    """)


def downgrade() -> None:
    s = context.config.attributes.get("schema", "audit")
    for table in ("archive", "checkpoint", "chain_head", "entry"):
        op.execute(f'DROP TABLE IF EXISTS "{s}".{table} CASCADE')
