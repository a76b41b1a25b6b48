"""One module per group of commands, named for what it implements."""
