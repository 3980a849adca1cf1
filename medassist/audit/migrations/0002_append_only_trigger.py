"""The audit trail is append-only at the database (ASTM E2147, ONC 170.315(d)(2)): on PostgreSQL
a trigger refuses every UPDATE and DELETE of an entry, whoever sends it.

TRUNCATE is left alone on purpose: test databases are flushed with it. In production, grant the
application's role INSERT and SELECT on the table and not TRUNCATE, and do not let it own the
table (an owner may disable the trigger); `medassist audit verify --anchor` detects removal.

SQLite has no equivalent worth having (a trigger there would also stop the test flush, which
uses DELETE); there, tampering is detected by the hash chain (`medassist audit verify`).
"""

from django.db import migrations

FUNCTION = "audit_auditevent_refuse_change"
TRIGGER = "audit_auditevent_append_only"


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name(apps.get_model("audit", "AuditEvent")._meta.db_table)
    schema_editor.execute(
        f"""
        CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the audit trail is append-only: % of audit entry #% refused',
                TG_OP, OLD.id
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Audit entries are never changed or removed; record a new entry.';
        END;
        $$
        """,
        params=None,  # no placeholders: the % in RAISE are PL/pgSQL's own
    )
    schema_editor.execute(
        f"""
        CREATE TRIGGER {TRIGGER} BEFORE UPDATE OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()
        """
    )


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name(apps.get_model("audit", "AuditEvent")._meta.db_table)
    schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {table}")
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
