"""The TechEmpower Framework Benchmarks tables: World (10,000 rows) and Fortune (12 rows)."""

from django.db import models


class World(models.Model):
    id = models.IntegerField(primary_key=True)
    randomnumber = models.IntegerField()

    class Meta:
        db_table = "world"

    def __str__(self) -> str:
        return f"World {self.id}"


class Fortune(models.Model):
    id = models.IntegerField(primary_key=True)
    message = models.CharField(max_length=2048)

    class Meta:
        db_table = "fortune"

    def __str__(self) -> str:
        return self.message
