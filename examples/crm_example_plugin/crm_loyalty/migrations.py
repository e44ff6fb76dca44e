"""Schema steps, applied once per database in order and recorded by name.

Add a new ``mNNN_...`` function for every change; never edit an applied one."""

from crmcore import schema


def m001_loyalty_points(store):
    from .records import LoyaltyPoints

    schema.ensure_table(store.db, LoyaltyPoints)


MIGRATIONS = [m001_loyalty_points]
