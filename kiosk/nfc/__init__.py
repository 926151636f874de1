"""NFC: the PC/SC reader, APDUs, the My Number Card and a virtual card for tests."""
