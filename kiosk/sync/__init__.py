"""The sync process and the wire protocol shared with the hub."""
