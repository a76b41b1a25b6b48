"""`login` and `logout`: credentials in ~/.docker/config.json, as the docker CLI keeps them."""

from __future__ import annotations

import sys

from ..flags import Command, Flag, parse

LOGIN = Command("login", "[OPTIONS] [SERVER]", "Log in to a registry", [
    Flag("-u, --username", "str", "Username"),
    Flag("-p, --password", "str", "Password"),
    Flag("--password-stdin", "bool", "Take the password from stdin"),
], max_args=1)
LOGOUT = Command("logout", "[SERVER]", "Log out from a registry", [], max_args=1)


def login(ctx, argv: list[str]) -> int:
    o, args = parse(LOGIN, argv)
    if o["help"]:
        sys.stdout.write(LOGIN.help_text())
        return 0
    from ...errors import InvalidArgument

    user, password = o["username"], o["password"]
    if o["password_stdin"]:
        if password:
            raise InvalidArgument("--password and --password-stdin are mutually exclusive")
        if not user:
            raise InvalidArgument("Must provide --username with --password-stdin")
        password = sys.stdin.read().rstrip("\r\n")
    elif password:
        sys.stderr.write("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n")
    if not user or not password:
        if not sys.stdin.isatty():
            raise InvalidArgument("Cannot perform an interactive login from a non TTY device")
        import getpass

        if not user:
            user = input("Username: ").strip()
        if not password:
            password = getpass.getpass("Password: ")
    if not user or not password:
        raise InvalidArgument("Non-null Username and Password Required")
    ctx.engine().login(args[0] if args else None, user, password)
    print("Login Succeeded")
    return 0


def logout(ctx, argv: list[str]) -> int:
    o, args = parse(LOGOUT, argv)
    if o["help"]:
        sys.stdout.write(LOGOUT.help_text())
        return 0
    key, found = ctx.engine().logout(args[0] if args else None)
    if found:
        print(f"Removing login credentials for {key}")
    else:
        print(f"Not logged in to {key}")
    return 0
