"""The per-container monitor (see monitor.monitor) and the container log format
it writes (monitor.logfile)."""
