"""A public id for rooms, so pages and forms never show an integer key. In three steps (add
nullable, fill, make unique), so that existing rooms each get their own id."""

import uuid

from django.db import migrations, models


def fill(apps, schema_editor):
    Room = apps.get_model("clinics", "Room")
    for room in Room.objects.filter(public_id__isnull=True).only("pk"):
        room.public_id = uuid.uuid4()
        room.save(update_fields=["public_id"])


class Migration(migrations.Migration):
    dependencies = [("clinics", "0002_rooms")]

    operations = [
        migrations.AddField(
            model_name="room",
            name="public_id",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="room",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
