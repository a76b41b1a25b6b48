"""The Engine (services.engine): Dockyard's importable API, wiring the store, images,
snapshots, cgroups, runtimes and monitors together. The CLI is a thin shell over it."""
