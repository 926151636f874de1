"""City card kiosk: My Number Card time clock, shelter intake and bereavement desk."""

__version__ = "0.1.0"
