"""Giving one schema's privileges to another made by the same DDL: what analysts may do there, exactly.

A rebuilt warehouse is a new schema whose objects are new: none of the grants analysts were given on the live
schema apply to them. Before the rebuild is swapped in (lambdas/load/rebuild_schema.py), the target's ACLs are made
equal to the source's: the schema's (and its owner), each table's, view's and sequence's, each column's, and the
default privileges defined for the schema. Privileges the target has and the source lacks are revoked, so the result
is a copy, not a union. Grant options are kept; the grantor becomes the target object's owner (a grant is recorded
as made by the role that makes it).

Runs inside the caller's transaction; a statement the login may not run (setting an owner it cannot become,
default privileges of a role it is not a member of) is undone by a savepoint and reported as a warning.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import pg8000.native
from pg8000.native import identifier

from lambdas.shared.identifiers import qualified, schema_identifier
from lambdas.shared.sqlstates import error_reason, sqlstate

INSUFFICIENT_PRIVILEGE: Final = "42501"
# The privileges aclexplode can name; they reach SQL as keywords, so only these do.
_PRIVILEGES: Final = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "USAGE",
                                "CREATE", "EXECUTE", "MAINTAIN"})
# Default privileges' object types (pg_default_acl.defaclobjtype) as ALTER DEFAULT PRIVILEGES names them.
_DEFAULT_OBJECTS: Final = {"r": "TABLES", "S": "SEQUENCES", "f": "FUNCTIONS", "T": "TYPES"}
_GRANTEE = "CASE a.grantee WHEN 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END"  # NULL: PUBLIC

_SCHEMA_ACL = f"""
SELECT {_GRANTEE}, a.privilege_type, a.is_grantable
  FROM pg_namespace n CROSS JOIN LATERAL aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) AS a
 WHERE n.nspname = :schema"""
# Tables, views, materialized views, sequences and foreign tables; NULL ACLs are their defaults (owner only).
_RELATION_ACL = f"""
SELECT c.relname, c.relkind, {_GRANTEE}, a.privilege_type, a.is_grantable
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 CROSS JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault(CASE c.relkind WHEN 'S' THEN 's'::"char"
                                                                         ELSE 'r'::"char" END, c.relowner))) AS a
 WHERE n.nspname = :schema AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')"""
_COLUMN_ACL = f"""
SELECT c.relname, c.relkind, t.attname, {_GRANTEE}, a.privilege_type, a.is_grantable
  FROM pg_attribute t JOIN pg_class c ON c.oid = t.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 CROSS JOIN LATERAL aclexplode(t.attacl) AS a
 WHERE n.nspname = :schema AND t.attnum > 0 AND NOT t.attisdropped AND t.attacl IS NOT NULL"""
_DEFAULT_ACL = f"""
SELECT pg_get_userbyid(d.defaclrole), d.defaclobjtype, {_GRANTEE}, a.privilege_type, a.is_grantable
  FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace
 CROSS JOIN LATERAL aclexplode(d.defaclacl) AS a
 WHERE n.nspname = :schema"""


@dataclass(frozen=True)
class CopiedPrivileges:
    """What copying did. Counts are of privileges: one privilege of one grantee on one object (or column)."""

    granted: int = 0
    revoked: int = 0
    default_privileges: int = 0  # default privileges granted for the schema
    owner: str | None = None  # the owner the target schema was given; None: it already had the source's
    warnings: tuple[str, ...] = ()


# (the object as GRANT names it, the privilege as GRANT names it: "SELECT" or 'SELECT ("col")', grantee or None
# for PUBLIC) -> with grant option
Acl = dict[tuple[str, str, str | None], bool]


def copy_privileges(conn: pg8000.native.Connection, source: str, target: str, *,
                    final_name: str | None = None) -> CopiedPrivileges:
    """Make `target`'s privileges those of `source`, object by same-named object (objects only one of them has
    are left alone). `final_name`: the name `target` will have, for the statements the warnings suggest."""
    named = final_name or target
    warnings: list[str] = []
    owner = _copy_owner(conn, source, target, named, warnings)
    granted = revoked = 0
    for old, new in (_schema_acls(conn, source, target), _relation_acls(conn, source, target),
                     _column_acls(conn, source, target)):
        g, r = _reconcile(conn, old, new)
        granted, revoked = granted + g, revoked + r
    defaults = _copy_default_privileges(conn, source, target, named, warnings)
    return CopiedPrivileges(granted=granted, revoked=revoked, default_privileges=defaults, owner=owner,
                            warnings=tuple(warnings))


def _copy_owner(conn: pg8000.native.Connection, source: str, target: str, named: str,
                warnings: list[str]) -> str | None:
    rows = conn.run("SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname IN (:source, :target)",
                    source=source, target=target)
    owners = {str(name): str(owner) for name, owner in rows}
    wanted, current = owners[source], owners[target]
    if wanted == current:
        return None
    statement = f"ALTER SCHEMA {schema_identifier(target)} OWNER TO {identifier(wanted)}"
    refused = _try(conn, [statement])
    if refused:
        warnings.append(f"schema {named} stays owned by {current}, not {wanted} as before ({refused}): "
                        f"ALTER SCHEMA {named} OWNER TO {wanted}")
        return None
    return wanted


def _schema_acls(conn: pg8000.native.Connection, source: str, target: str) -> tuple[Acl, Acl]:
    owner = str(conn.run("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = :s", s=target)[0][0])
    obj = f"SCHEMA {schema_identifier(target)}"

    def acl(schema: str) -> Acl:
        return _entries((obj, str(p), g, bool(o)) for g, p, o in conn.run(_SCHEMA_ACL, schema=schema)
                        if g != owner)  # the owner holds every privilege by owning it

    return acl(source), acl(target)


def _relation_acls(conn: pg8000.native.Connection, source: str, target: str) -> tuple[Acl, Acl]:
    targets = {(str(name), str(kind)): str(owner) for name, kind, owner in conn.run(
        "SELECT c.relname, c.relkind, pg_get_userbyid(c.relowner) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :schema", schema=target)}

    def acl(schema: str) -> Acl:
        found = []
        for name, kind, grantee, privilege, grantable in conn.run(_RELATION_ACL, schema=schema):
            key = (str(name), str(kind))
            if key in targets and grantee != targets[key]:  # the owner holds every privilege by owning it
                found.append((_relation(target, *key), str(privilege), grantee, bool(grantable)))
        return _entries(found)

    return acl(source), acl(target)


def _column_acls(conn: pg8000.native.Connection, source: str, target: str) -> tuple[Acl, Acl]:
    columns = {(str(name), str(kind), str(column)): str(owner) for name, kind, owner, column in conn.run(
        "SELECT c.relname, c.relkind, pg_get_userbyid(c.relowner), t.attname FROM pg_attribute t "
        "JOIN pg_class c ON c.oid = t.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = :schema AND t.attnum > 0 AND NOT t.attisdropped", schema=target)}

    def acl(schema: str) -> Acl:
        found = []
        for name, kind, column, grantee, privilege, grantable in conn.run(_COLUMN_ACL, schema=schema):
            key = (str(name), str(kind), str(column))
            if key in columns and grantee != columns[key]:
                found.append((_relation(target, key[0], key[1]), f"{_privilege(str(privilege))} ({identifier(key[2])})",
                              grantee, bool(grantable)))
        return _entries(found)

    return acl(source), acl(target)


def _copy_default_privileges(conn: pg8000.native.Connection, source: str, target: str, named: str,
                             warnings: list[str]) -> int:
    """ALTER DEFAULT PRIVILEGES FOR ROLE r IN SCHEMA target, role by role: only a member of r may define them."""
    def by_role(schema: str) -> dict[str, Acl]:
        found: dict[str, list[tuple[str, str, str | None, bool]]] = defaultdict(list)
        for role, kind, grantee, privilege, grantable in conn.run(_DEFAULT_ACL, schema=schema):
            found[str(role)].append((_DEFAULT_OBJECTS[str(kind)], str(privilege), grantee, bool(grantable)))
        return {role: _entries(entries) for role, entries in found.items()}

    old, new = by_role(source), by_role(target)
    copied = 0
    for role in sorted(old.keys() | new.keys()):
        prefix = f"ALTER DEFAULT PRIVILEGES FOR ROLE {identifier(role)} IN SCHEMA {schema_identifier(target)} "
        grants, revokes = _statements(old.get(role, {}), new.get(role, {}))
        refused = _try(conn, [prefix + s for s, _ in revokes + grants])
        if refused:
            shown = f"ALTER DEFAULT PRIVILEGES FOR ROLE {identifier(role)} IN SCHEMA {schema_identifier(named)} "
            warnings.append(f"default privileges of role {role} in schema {named} not copied ({refused}); "
                            f"a member of {role} can run: " + "; ".join(shown + s for s, _ in grants))
        else:
            copied += sum(n for _, n in grants)
    return copied


def _reconcile(conn: pg8000.native.Connection, old: Acl, new: Acl) -> tuple[int, int]:
    grants, revokes = _statements(old, new)
    for statement, _ in revokes + grants:
        conn.run(statement)
    return sum(n for _, n in grants), sum(n for _, n in revokes)


def _statements(old: Acl, new: Acl) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """The GRANTs and REVOKEs (each with how many privileges it moves) that turn ACL `new` into `old`."""
    grant: dict[tuple[str, str | None, bool], list[str]] = defaultdict(list)
    for (obj, privilege, grantee), option in old.items():
        if new.get((obj, privilege, grantee)) is None or (option and not new[(obj, privilege, grantee)]):
            grant[(obj, grantee, option)].append(privilege)
    revoke: dict[tuple[str, str | None, bool], list[str]] = defaultdict(list)
    for (obj, privilege, grantee), option in new.items():
        if (obj, privilege, grantee) not in old:
            revoke[(obj, grantee, False)].append(privilege)
        elif option and not old[(obj, privilege, grantee)]:
            revoke[(obj, grantee, True)].append(privilege)  # keep the privilege, drop the grant option
    grants = [(f"GRANT {', '.join(p)} ON {obj} TO {_grantee(g)}" + (" WITH GRANT OPTION" if option else ""), len(p))
              for (obj, g, option), p in sorted(grant.items(), key=_order)]
    revokes = [(f"REVOKE {'GRANT OPTION FOR ' if option_only else ''}{', '.join(p)} ON {obj} FROM {_grantee(g)} "
                "CASCADE", len(p)) for (obj, g, option_only), p in sorted(revoke.items(), key=_order)]
    return grants, revokes


def _order(item: tuple[tuple[str, str | None, bool], list[str]]) -> tuple[str, str, bool]:
    (obj, grantee, option), _ = item
    return obj, grantee or "", option


def _entries(rows: Iterable[tuple[str, str, str | None, bool]]) -> Acl:
    """One entry per object, privilege and grantee (aclexplode gives one per grantor too); grantable if any is."""
    acl: Acl = {}
    for obj, privilege, grantee, grantable in rows:
        key = (obj, _privilege(privilege), grantee)
        acl[key] = acl.get(key, False) or grantable
    return acl


def _privilege(name: str) -> str:
    keyword = name.split(" ", 1)[0]
    if keyword not in _PRIVILEGES:
        raise ValueError(f"unknown privilege {name!r}")
    return name


def _relation(schema: str, name: str, kind: str) -> str:
    return f"{'SEQUENCE' if kind == 'S' else 'TABLE'} {qualified(schema, name)}"


def _grantee(name: Any) -> str:
    return "PUBLIC" if name is None else str(identifier(str(name)))


def _try(conn: pg8000.native.Connection, statements: list[str]) -> str | None:
    """Run `statements` under a savepoint; if the login may not, undo them and say why (None: they ran)."""
    if not statements:
        return None
    conn.run("SAVEPOINT onyx_privileges")
    try:
        for statement in statements:
            conn.run(statement)
    except pg8000.native.DatabaseError as exc:
        if sqlstate(exc) != INSUFFICIENT_PRIVILEGE:
            raise
        conn.run("ROLLBACK TO SAVEPOINT onyx_privileges")
        return error_reason(exc)
    conn.run("RELEASE SAVEPOINT onyx_privileges")
    return None
