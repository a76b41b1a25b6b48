"""`events` / `system events`: the event log, then (without --until) new events as they
come, polled from the store every 100 ms; Ctrl-C ends it quietly."""

from __future__ import annotations

import sys

from ..flags import Command, Flag, parse

EVENTS = Command("events", "[OPTIONS]", "Get real time events from the server", [
    Flag("-f, --filter", "list", "Filter output based on conditions provided", metavar="filter"),
    Flag("--format", "str", "Format output using a custom template: 'json', or a Go template"),
    Flag("--since", "str", "Show all events created since timestamp"),
    Flag("--until", "str", "Stream events until this timestamp"),
], max_args=0, aliases=("system events",))

POLL = 0.1  # seconds between looks at the log while following


def events(ctx, argv: list[str]) -> int:
    o, _ = parse(EVENTS, argv)
    if o["help"]:
        sys.stdout.write(EVENTS.help_text())
        return 0
    from ...core.clock import now_ns
    from ...services import events as ev
    from ..template import Template, TemplateError

    template = None
    fmt = o["format"] or ""
    if fmt:
        try:
            # fields of Docker's events.Message are a struct's (a wrong one is an error),
            # Actor.Attributes a map's
            template = Template("{{json .}}" if fmt == "json" else fmt, prefix="Error parsing format: ",
                                status=64, strict_maps={"Attributes"})
            # Docker runs it over an empty message, so a bad field fails at once
            template.execute({"status": "", "id": "", "from": "", "Type": "", "Action": "",
                              "Actor": {"ID": "", "Attributes": {}}, "scope": "", "time": 0, "timeNano": 0})
        except TemplateError as e:
            sys.stderr.write(e.message + "\n")
            return 64
    filters = ev.parse_filters(o["filter"])
    ev.check_filters(filters)
    now = now_ns()
    since = ev.parse_time(o["since"], now) if o["since"] else None
    until = ev.parse_time(o["until"], now) if o["until"] else None
    engine = ctx.engine()

    def show(batch) -> None:
        for e in batch:
            if template is not None:
                sys.stdout.write(template.execute(ev.message(e)) + "\n")
            else:
                sys.stdout.write(ev.pretty(e) + "\n")
        sys.stdout.flush()

    try:
        # what was logged before: only with --since or --until, as Docker shows it
        if since is not None or until is not None:
            past, after = engine.events(since=since, until=until, filters=filters)
            show(past)
        else:
            after = ev.last_seq(engine)
        if until is not None and until <= now_ns():
            return 0
        import time

        while True:
            batch, after = engine.events(since=since, until=until, filters=filters, after=after)
            show(batch)
            if until is not None and now_ns() > until:
                return 0
            time.sleep(POLL)
    except KeyboardInterrupt:
        return 0
    except TemplateError as e:
        sys.stderr.write(e.message + "\n")
        return 1
