"""The event log's tables and the triggers that fill them; replaces items/0002's NOTIFY trigger.

Order and contiguity: a BEFORE ... FOR EACH STATEMENT trigger takes a transaction-level
advisory lock before the statement touches any row, and holds it until the transaction ends;
the row trigger then takes the next id from the one-row `events_head` counter. PostgreSQL makes
a committed transaction visible before it releases its locks, so event N is visible before the
transaction of event N+1 can take its id: ids increase in commit order, and a rollback undoes
its counter increment, so there are no gaps. The price: writes to items commit one at a time
(docs/events.md, "The cost of order", measured by `make bench-events`). Taking the lock before
the statement's row locks means two writers of items cannot deadlock on it.

NOTIFY carries nothing: it only wakes the app processes, which read the rows. Timestamps are
written as the API writes them (UTC, milliseconds, `Z`), so an event's item equals GET
/api/items/{id}. TRUNCATE of items is recorded too, as `items.truncated` (clients reload).
"""

import importlib

from django.db import migrations, models

FORWARD = """
DROP TRIGGER items_item_notify ON items_item;
DROP FUNCTION items_item_notify();
DROP SEQUENCE items_event_id_seq;

CREATE FUNCTION events_json_time(ts timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT to_char(ts AT TIME ZONE 'UTC', CASE
        WHEN extract(microseconds FROM ts)::bigint % 1000000 = 0 THEN 'YYYY-MM-DD"T"HH24:MI:SS"Z"'
        ELSE 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'
    END)
$$;

-- Serializes the writers of items until they commit (see the migration's docstring). Keyed by
-- the event table's OID, so that no other advisory lock in the database takes it by accident.
CREATE FUNCTION events_lock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock('events_event'::regclass::oid::bigint);
    RETURN NULL;
END;
$$;

-- The next event id, under the lock. The head row is written again if it is missing (Django's
-- flush truncates every table), after the highest id still in the log.
CREATE FUNCTION events_next_id() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    next_id bigint;
BEGIN
    UPDATE events_head SET last_id = last_id + 1 WHERE id = 1 RETURNING last_id INTO next_id;
    IF NOT FOUND THEN
        next_id := coalesce((SELECT max(id) FROM events_event), 0) + 1;
        INSERT INTO events_head (id, last_id) VALUES (1, next_id);
    END IF;
    RETURN next_id;
END;
$$;

CREATE FUNCTION events_record(kind text, body jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    next_id bigint := events_next_id();
    recorded timestamptz := clock_timestamp();
BEGIN
    INSERT INTO events_event (id, type, recorded_at, payload) VALUES (
        next_id, kind, recorded,
        jsonb_build_object('id', next_id, 'type', kind, 'at', events_json_time(recorded)) || body
    );
    -- One wake-up per transaction: PostgreSQL folds identical notifications of a transaction.
    PERFORM pg_notify('events', '');
END;
$$;

CREATE FUNCTION events_record_item() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    row items_item;
    kind text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        row := OLD;
        kind := 'item.deleted';
    ELSIF TG_OP = 'UPDATE' THEN
        row := NEW;
        kind := 'item.updated';
    ELSE
        row := NEW;
        kind := 'item.created';
    END IF;
    PERFORM events_record(kind, jsonb_build_object('item', jsonb_build_object(
        'id', row.id,
        'name', row.name,
        'description', row.description,
        'created_at', events_json_time(row.created_at),
        'updated_at', events_json_time(row.updated_at)
    )));
    RETURN NULL;
END;
$$;

CREATE FUNCTION events_record_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM events_record('items.truncated', '{}'::jsonb);
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_order
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON items_item
    FOR EACH STATEMENT EXECUTE FUNCTION events_lock();
CREATE TRIGGER events_record
    AFTER INSERT OR UPDATE OR DELETE ON items_item
    FOR EACH ROW EXECUTE FUNCTION events_record_item();
CREATE TRIGGER events_record_truncate
    AFTER TRUNCATE ON items_item
    FOR EACH STATEMENT EXECUTE FUNCTION events_record_truncate();
"""

BACKWARD = """
DROP TRIGGER events_record_truncate ON items_item;
DROP TRIGGER events_record ON items_item;
DROP TRIGGER events_order ON items_item;
DROP FUNCTION events_record_truncate();
DROP FUNCTION events_record_item();
DROP FUNCTION events_record(text, jsonb);
DROP FUNCTION events_next_id();
DROP FUNCTION events_lock();
DROP FUNCTION events_json_time(timestamptz);
"""


def _notify_trigger() -> str:
    """items/0002's trigger, restored when this migration is reversed."""
    return str(importlib.import_module("items.migrations.0002_notify_trigger").FORWARD)


class Migration(migrations.Migration):
    initial = True

    dependencies = [("items", "0003_idempotency_key")]

    operations = [
        migrations.CreateModel(
            name="Event",
            fields=[
                ("id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("type", models.CharField(max_length=50)),
                ("payload", models.JSONField()),
                ("recorded_at", models.DateTimeField()),
            ],
            options={"ordering": ["id"]},
        ),
        migrations.CreateModel(
            name="Head",
            fields=[
                ("id", models.SmallIntegerField(primary_key=True, serialize=False)),
                ("last_id", models.BigIntegerField()),
            ],
        ),
        migrations.RunSQL(FORWARD, BACKWARD + _notify_trigger()),
    ]
