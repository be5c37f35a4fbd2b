"""The repository's own test wiring (the plugin itself is loaded through its entry point)."""

pytest_plugins = ["pytester"]
