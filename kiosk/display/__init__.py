"""The pygame screen: the loop, the screens, fonts and sizes."""
