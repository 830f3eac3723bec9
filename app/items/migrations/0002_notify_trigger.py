"""Announce every change to items with NOTIFY, from a trigger.

The trigger runs inside the transaction of the statement that changed the row, so listeners
hear of a change when (and only if) it commits, whoever made it: the API, the admin, a
migration or psql. The payload carries an event number from a sequence (increasing across all
app processes), the event type and the item's short fields; NOTIFY payloads are limited to
8000 bytes, so the description (up to 10,000 characters) is left out.
"""

from django.db import migrations

FORWARD = """
CREATE SEQUENCE items_event_id_seq;

CREATE FUNCTION items_item_notify() RETURNS trigger LANGUAGE plpgsql AS $$
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
    PERFORM pg_notify('events', json_build_object(
        'id', nextval('items_event_id_seq'),
        'type', kind,
        'item', json_build_object(
            'id', row.id,
            'name', row.name,
            'created_at', row.created_at,
            'updated_at', row.updated_at
        )
    )::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER items_item_notify
    AFTER INSERT OR UPDATE OR DELETE ON items_item
    FOR EACH ROW EXECUTE FUNCTION items_item_notify();
"""

BACKWARD = """
DROP TRIGGER items_item_notify ON items_item;
DROP FUNCTION items_item_notify();
DROP SEQUENCE items_event_id_seq;
"""


class Migration(migrations.Migration):
    dependencies = [("items", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
