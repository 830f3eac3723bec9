"""Project wiring: settings, URLs and the ASGI entry point."""

# The one place the application's version is written (pyproject.toml repeats it as package
# metadata; a test keeps the two equal).
__version__ = "0.1.0"
