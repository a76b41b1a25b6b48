"""The `dockyard` command line: flag parsing and output formats over the Engine API."""
