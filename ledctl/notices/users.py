"""Users, roles and API tokens. Passwords are hashed with scrypt; tokens are stored as hashes.

Roles, each including the one before: viewer (read), operator (draft, publish what is
approved, cancel), approver (approve, reject, review, emergency override), admin
(users). The first user can be added without logging in, and must be an admin.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ledctl.db import database
from ledctl.errors import LedctlError

ROLES = ("viewer", "operator", "approver", "admin")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
MIN_PASSWORD = 10
_DUMMY = "scrypt$16384$8$1$00000000000000000000000000000000$" + "0" * 64
Audit = Callable[[sqlite3.Connection], None]  # writes the change's audit row in the same transaction

class AuthError(LedctlError):
    """Wrong password, unknown or disabled user, or a role that may not do this."""

    exit_code = 3


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str
    disabled: bool = False

    def can(self, role: str) -> bool:
        return not self.disabled and ROLES.index(self.role) >= ROLES.index(role)

    def require(self, role: str, doing: str) -> None:
        if not self.can(role):
            raise AuthError(
                f"{self.name} ({self.role}) may not {doing}: that needs the {role} role or higher"
            )


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if kind != "scrypt":
        return False
    got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    return hmac.compare_digest(got.hex(), digest)


def _valid_name(name: str) -> str:
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name):
        raise LedctlError(f"user name {name!r}: use 1-64 letters, digits, '-', '_' or '.'")
    normal = unicodedata.normalize("NFKC", name)
    if normal != name:
        raise LedctlError(f"user name {name!r}: write it as {normal!r} (full-width and compatibility "
                          "characters look like others)")
    scripts = {_script(c) for c in name if c.isalpha()} - {"COMMON"}
    if len(scripts & {"LATIN", "CYRILLIC", "GREEK"}) > 1:
        raise LedctlError(f"user name {name!r} mixes {' and '.join(sorted(scripts))} letters, which look "
                          "alike (a Cyrillic і passes for a Latin i): use one script")
    return name


# Letters of other scripts that look like Latin ones, and Latin look-alikes (UTS #39 confusables, the
# ones a name can hide behind): a name whose skeleton equals an existing user's is refused.
_CONFUSABLE = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "ɡ": "g", "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "0": "o", "1": "l", "|": "l",
})


def skeleton(name: str) -> str:
    """What a name looks like: case, look-alike letters and digits folded (lі, Li, l1 → ll)."""
    folded = unicodedata.normalize("NFKC", name).casefold().translate(_CONFUSABLE)
    return folded.replace("rn", "m").replace("vv", "w").replace("i", "l")


def _script(char: str) -> str:
    label = unicodedata.name(char, "")
    for script in ("LATIN", "CYRILLIC", "GREEK", "CJK"):
        if label.startswith(script):
            return script
    return "COMMON" if not char.isalpha() else label.split(" ")[0]


class Users:
    """The users and tokens tables of the store at `path` (sharing its connections; see ledctl.db)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = database(path)

    def empty(self) -> bool:
        with self.db.read() as db:
            return db.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 0

    def add(
        self, name: str, role: str, password: str, at: datetime, by: User | None, audit: Audit | None = None
    ) -> User:
        _valid_name(name)
        if role not in ROLES:
            raise LedctlError(f"role {role!r}: one of {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise LedctlError(f"the password for {name} is too short: at least {MIN_PASSWORD} characters")
        if by is None:
            if not self.empty():
                raise AuthError("only an admin can add users: act as one (--as NAME, or $LEDCTL_TOKEN)")
            if role != "admin":
                raise LedctlError("the first user must be an admin (--role admin)")
        else:
            by.require("admin", "add users")
        with self.db.write() as db:
            if db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise LedctlError(f"user {name} exists already")
            twin = next((other for (other,) in db.execute("SELECT name FROM users")
                         if skeleton(other) == skeleton(name)), None)
            if twin is not None:
                raise LedctlError(f"user name {name!r} looks like the existing user {twin!r}: "
                                  "choose a name nobody could mistake for it")
            db.execute(
                "INSERT INTO users VALUES (?, ?, ?, 0, ?)",
                (name, role, hash_password(password), at.isoformat()),
            )
            if audit is not None:
                audit(db)
        return User(name, role)

    def get(self, name: str) -> User | None:
        with self.db.read() as db:
            row = db.execute("SELECT name, role, disabled FROM users WHERE name = ?", (name,)).fetchone()
        return None if row is None else User(row[0], row[1], bool(row[2]))

    def list(self) -> list[User]:
        with self.db.read() as db:
            rows = db.execute("SELECT name, role, disabled FROM users ORDER BY name").fetchall()
        return [User(n, r, bool(d)) for n, r, d in rows]

    def login(self, name: str, password: str) -> User:
        with self.db.read() as db:
            row = db.execute(
                "SELECT name, role, disabled, password FROM users WHERE name = ?", (name,)
            ).fetchone()
        # The same message, and the same work, whether the user exists or not: no probing for names.
        if row is None:
            check_password(password, _DUMMY)
        if row is None or not check_password(password, row[3]):
            raise AuthError("wrong user name or password")
        if row[2]:
            raise AuthError(f"user {name} is disabled")
        return User(row[0], row[1])

    def disable(self, name: str, by: User, audit: Audit | None = None) -> None:
        by.require("admin", "disable users")
        if name == by.name:
            raise LedctlError("an admin cannot disable themselves (ask another admin)")
        with self.db.write() as db:
            if db.execute("UPDATE users SET disabled = 1 WHERE name = ?", (name,)).rowcount == 0:
                raise LedctlError(f"no user {name}")
            db.execute("DELETE FROM tokens WHERE user = ?", (name,))
            if audit is not None:
                audit(db)

    def new_token(self, user: User, label: str, at: datetime, audit: Audit | None = None) -> str:
        token = "ledctl_" + secrets.token_urlsafe(32)
        with self.db.write() as db:
            db.execute(
                "INSERT INTO tokens VALUES (?, ?, ?, ?)",
                (hashlib.sha256(token.encode()).hexdigest(), user.name, label, at.isoformat()),
            )
            if audit is not None:
                audit(db)
        return token

    def by_token(self, token: str) -> User:
        digest = hashlib.sha256(token.encode()).hexdigest()
        with self.db.read() as db:
            row = db.execute(
                "SELECT u.name, u.role, u.disabled FROM tokens t JOIN users u ON u.name = t.user "
                "WHERE t.digest = ?",
                (digest,),
            ).fetchone()
        if row is None or row[2]:
            raise AuthError("the token is unknown or its user is disabled")
        return User(row[0], row[1])
