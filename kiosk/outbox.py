"""The crash-safe, segmented outbox and the sync-state file (DESIGN §2).

CONTRACT (implemented by the foundation work; other modules code against these names):

UI side (the only writer of ``<data>/outbox/``)::

    box = Outbox(data_dir, disk_floor_bytes=200 * 2**20)
    stored = box.append(event)      # returns the Event with its seq, after fsync; raises DiskFull
    box.last_seq                    # newest seq on disk (0 when empty)
    box.quarantined                 # list of paths moved aside at start-up (status field)

Sync side (the only writer of ``<data>/sync-state.json``; never writes ``outbox/``)::

    reader = OutboxReader(data_dir)
    reader.pending(limit=500)        # unconfirmed, not rejected events in seq order
    reader.confirm([(event_id, seq), ...])          # record stored/duplicate acks, purge sealed
                                                    # segments whose events are all confirmed
    reader.reject([(event_id, seq, reason), ...])   # keep the event, never resend it in a loop
    reader.backlog()                 # number of unconfirmed events (rejected included)
    reader.oldest_unconfirmed_time() # event `time` string of the oldest, or None
    reader.state                     # the SyncState below

Either side reads the sync-state (written atomically by the sync process only)::

    SyncState.load(data_dir) -> SyncState     # missing or corrupt file -> empty state (+ quarantine)
    state.confirmed_through                    # every seq <= this is confirmed
    state.roster / state.occupancy / state.health   # plain dicts kept for the UI
    state.save(data_dir)                       # sync process only

Errors: ``DiskFull`` (free space under the floor; nothing was written), ``OutboxError`` (base).
"""
