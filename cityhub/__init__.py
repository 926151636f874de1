"""The city-side service: ingest kiosk events, confirm them, serve HQ views and exports."""
