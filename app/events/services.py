"""Writes to the event log from Python: only pruning (the triggers record the events)."""

from psycopg import sql

from events.db import connect

PRUNE_BATCH = 10_000  # rows per DELETE, each its own short transaction

# A session-level advisory lock, keyed by the head table's OID (the triggers' lock is keyed by
# the event table's): one process prunes at a time, the others skip.
TRY_LOCK = sql.SQL("SELECT pg_try_advisory_lock('events_head'::regclass::oid::bigint)")
UNLOCK = sql.SQL("SELECT pg_advisory_unlock('events_head'::regclass::oid::bigint)")
# The first event young enough to keep; ids follow commit order, so every id below it is older.
# If none is, everything up to the head goes (the head row stays: ids never restart).
KEEP_FROM = sql.SQL("""
    SELECT coalesce(
        (SELECT id FROM events_event WHERE recorded_at >= now() - make_interval(secs => %s)
         ORDER BY id LIMIT 1),
        (SELECT max(id) + 1 FROM events_event),
        0)
""")
DELETE_BATCH = sql.SQL("""
    DELETE FROM events_event WHERE id IN (
        SELECT id FROM events_event WHERE id < %s ORDER BY id LIMIT %s)
""")


async def event_prune(*, older_than: float) -> int | None:
    """Delete the events recorded more than `older_than` seconds ago; how many were deleted, or
    None if another process is pruning now (it will do the same work)."""
    async with await connect() as connection:
        cursor = await connection.execute(TRY_LOCK)
        locked = await cursor.fetchone()
        if not (locked and locked[0]):
            return None
        try:
            cursor = await connection.execute(KEEP_FROM, [older_than])
            keep = await cursor.fetchone()
            keep_from = int(keep[0]) if keep else 0
            deleted = 0
            while True:
                cursor = await connection.execute(DELETE_BATCH, [keep_from, PRUNE_BATCH])
                deleted += cursor.rowcount
                if cursor.rowcount < PRUNE_BATCH:
                    return deleted
        finally:
            await connection.execute(UNLOCK)
