"""The database schema: forward-only migrations, applied in order at open."""

from __future__ import annotations

# Forward-only migrations; PRAGMA user_version holds how many have been applied.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE raw_reading (
        id INTEGER PRIMARY KEY,
        person TEXT NOT NULL,
        device TEXT NOT NULL,
        received_us INTEGER NOT NULL,
        kind TEXT NOT NULL,
        payload BLOB NOT NULL
    );
    CREATE INDEX raw_reading_kind_time ON raw_reading (kind, received_us);
    CREATE TABLE device_minute (
        person TEXT NOT NULL,
        minute INTEGER NOT NULL,
        device TEXT NOT NULL,
        steps INTEGER NOT NULL DEFAULT 0,
        inferred_steps INTEGER NOT NULL DEFAULT 0,
        inferred_walking_s REAL NOT NULL DEFAULT 0,
        motion_steps INTEGER NOT NULL DEFAULT 0,
        motion_walking_s REAL NOT NULL DEFAULT 0,
        enmo_sum_mg REAL NOT NULL DEFAULT 0,
        enmo_samples INTEGER NOT NULL DEFAULT 0,
        moving INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (person, minute, device)
    ) WITHOUT ROWID;
    CREATE TABLE processor_state (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE day_result (
        person TEXT NOT NULL,
        day TEXT NOT NULL,
        target_minutes REAL NOT NULL,
        walked_minutes REAL NOT NULL,
        steps INTEGER NOT NULL,
        movement_minutes INTEGER NOT NULL,
        met INTEGER NOT NULL,
        PRIMARY KEY (person, day)
    );
    CREATE TABLE schedule_cursor (
        person TEXT PRIMARY KEY,
        done_until TEXT NOT NULL
    );
    CREATE TABLE alert (
        id TEXT PRIMARY KEY,
        person TEXT NOT NULL,
        key TEXT NOT NULL,
        event_type TEXT NOT NULL,
        severity TEXT NOT NULL,
        created_at TEXT NOT NULL,
        payload TEXT NOT NULL,
        acked_at TEXT,
        UNIQUE (person, key)
    );
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY,
        alert_id TEXT NOT NULL,
        topic TEXT NOT NULL,
        payload BLOB NOT NULL,
        failed_reason TEXT
    );
    CREATE TABLE report (
        id INTEGER PRIMARY KEY,
        person TEXT NOT NULL,
        kind TEXT NOT NULL,
        at TEXT NOT NULL,
        received_at TEXT NOT NULL,
        payload TEXT NOT NULL,
        dedup TEXT NOT NULL
    );
    CREATE INDEX report_person_kind_at ON report (person, kind, at);
    CREATE INDEX report_dedup ON report (person, dedup, received_at);
    """,
    # 2: alerts the policy held back are kept (with the reason), so an occasion is never raised
    # twice; the policy and the report look alerts up by person and time.
    """
    ALTER TABLE alert ADD COLUMN held_back TEXT;
    CREATE INDEX alert_person_time ON alert (person, created_at);
    """,
)
