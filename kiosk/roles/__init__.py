"""Business rules as plain objects: inputs in, effects out. No pygame, pyscard or network here."""
