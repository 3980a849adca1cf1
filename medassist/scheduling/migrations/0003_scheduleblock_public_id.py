"""A public id for blocked time, so the manage page never shows an integer key. In three steps
(add nullable, fill, make unique), so that existing blocks each get their own id."""

import uuid

from django.db import migrations, models


def fill(apps, schema_editor):
    Block = apps.get_model("scheduling", "ScheduleBlock")
    for block in Block.objects.filter(public_id__isnull=True).only("pk"):
        block.public_id = uuid.uuid4()
        block.save(update_fields=["public_id"])


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0002_reminderpreference")]

    operations = [
        migrations.AddField(
            model_name="scheduleblock",
            name="public_id",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="scheduleblock",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
