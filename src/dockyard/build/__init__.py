"""Building images from a Dockerfile: Dockerfile -> stages -> steps.

The package reads a Dockerfile the way BuildKit's Dockerfile frontend does and turns
it into images through the Engine's own runtime, so a RUN step gets the same
isolation, limits and snapshots as `dockyard run`:

- `dockerfile`: the parser. Text -> `Instruction`s (checked, not expanded) grouped
  into `Stage`s (one per FROM; ARGs before the first FROM are meta args).
- `words`: BuildKit's shell lexer: ``$VAR`` / ``${VAR:-default}`` substitution,
  quotes and escapes, word splitting; applied when a step runs, with the ARGs and
  ENVs in force at that step.
- `ignore`: ``.dockerignore`` patterns (Go filepath.Match syntax, ``**``, ``!``
  exceptions), deciding which files of the context a build can see.

These three are pure: they read the text they are given and nothing else. The
builder executes the stages: each RUN in a container made from the previous step,
its changes committed as a layer; metadata instructions only change the config;
every step keyed for the cache by its parent, its instruction and (COPY/ADD) the
content of its sources.
"""
