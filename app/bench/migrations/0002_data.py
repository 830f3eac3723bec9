"""Fill the tables as TechEmpower's benchmark databases are filled."""

import random

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

# TechEmpower's fortunes, as published (the `<script>` and the Japanese text test escaping and
# sorting by code point).
FORTUNES = [
    "fortune: No such file or directory",
    "A computer scientist is someone who fixes things that aren't broken.",
    "After enough decimal places, nobody gives a damn.",
    "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
    "A computer program does what you tell it to do, not what you want it to do.",
    "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen",
    "Any program that runs right is obsolete.",
    "A list is only as strong as its weakest link. — Donald Knuth",
    "Feature: A bug with seniority.",
    "Computers make very fast, very accurate mistakes.",
    '<script>alert("This should not be displayed in a browser alert box.");</script>',
    "フレームワークのベンチマーク",
]


def fill(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    world = apps.get_model("bench", "World")
    fortune = apps.get_model("bench", "Fortune")
    rng = random.Random(0)  # noqa: S311 (benchmark data, not a secret)
    world.objects.bulk_create(
        world(id=n, randomnumber=rng.randint(1, 10000)) for n in range(1, 10001)
    )
    fortune.objects.bulk_create(
        fortune(id=n, message=message) for n, message in enumerate(FORTUNES, start=1)
    )


def empty(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    apps.get_model("bench", "World").objects.all().delete()
    apps.get_model("bench", "Fortune").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("bench", "0001_initial")]

    operations = [migrations.RunPython(fill, empty)]
