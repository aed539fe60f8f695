"""What a schema holds, and what outside it depends on it, read from PostgreSQL's catalogs.

A rebuild swaps whole schemas by renaming them (lambdas/load/rebuild_schema.py). Whatever lives in the live
schema stays with the old warehouse, and whatever elsewhere refers to the live schema's objects refers to them
by OID, so it follows them into the old warehouse too. These two questions find both.
"""

from __future__ import annotations

from typing import NamedTuple

import pg8000.native

# Every named thing a schema can hold, as (kind, name, within) with names free of the schema's own name, so that two
# schemas made by the same DDL list the same objects; `within` names the relation a column, index, constraint,
# trigger, policy or rule belongs to. Objects of an extension are listed as the extension. Row types
# of tables and the array types PostgreSQL makes beside every type are left out: they come with their table or type.
_OBJECTS = """
WITH target AS (SELECT oid FROM pg_namespace WHERE nspname = :schema),
objects (classid, objid, kind, name, within) AS (
    SELECT 'pg_class'::regclass, c.oid,
           CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view'
                          WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table'
                          WHEN 'i' THEN 'index' WHEN 'I' THEN 'index' WHEN 'c' THEN 'type' ELSE 'relation' END,
           c.relname::text, (SELECT r.relname::text FROM pg_index x JOIN pg_class r ON r.oid = x.indrelid
                              WHERE x.indexrelid = c.oid)
      FROM pg_class c JOIN target t ON c.relnamespace = t.oid
    UNION ALL
    SELECT 'pg_class'::regclass, c.oid, 'column', c.relname || '.' || a.attname, c.relname::text
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN target t ON c.relnamespace = t.oid
     WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
    UNION ALL
    SELECT 'pg_proc'::regclass, p.oid,
           CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END,
           -- argument types by name only: a type of the schema itself must not make two schemas differ
           p.proname || '(' || coalesce((SELECT string_agg(y.typname, ', ' ORDER BY k.n)
                                           FROM unnest(CAST(p.proargtypes AS oid[])) WITH ORDINALITY AS k (typ, n)
                                           JOIN pg_type y ON y.oid = k.typ), '') || ')', NULL
      FROM pg_proc p JOIN target t ON p.pronamespace = t.oid
    UNION ALL
    SELECT 'pg_type'::regclass, y.oid, CASE y.typtype WHEN 'd' THEN 'domain' ELSE 'type' END, y.typname::text, NULL
      FROM pg_type y JOIN target t ON y.typnamespace = t.oid
     WHERE (y.typrelid = 0 OR EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = y.typrelid AND c.relkind = 'c'))
       AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.typarray = y.oid)
    UNION ALL
    SELECT 'pg_constraint'::regclass, k.oid, 'constraint', k.conname || ' on ' || coalesce(c.relname, y.typname),
           coalesce(c.relname, y.typname)::text
      FROM pg_constraint k JOIN target t ON k.connamespace = t.oid
      LEFT JOIN pg_class c ON c.oid = k.conrelid LEFT JOIN pg_type y ON y.oid = k.contypid
    UNION ALL
    SELECT 'pg_trigger'::regclass, g.oid, 'trigger', g.tgname || ' on ' || c.relname, c.relname::text
      FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid JOIN target t ON c.relnamespace = t.oid
     WHERE NOT g.tgisinternal
    UNION ALL
    SELECT 'pg_policy'::regclass, o.oid, 'policy', o.polname || ' on ' || c.relname, c.relname::text
      FROM pg_policy o JOIN pg_class c ON c.oid = o.polrelid JOIN target t ON c.relnamespace = t.oid
    UNION ALL
    SELECT 'pg_rewrite'::regclass, r.oid, 'rule', r.rulename || ' on ' || c.relname, c.relname::text
      FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN target t ON c.relnamespace = t.oid
     WHERE r.rulename <> '_RETURN'
    UNION ALL
    SELECT 'pg_statistic_ext'::regclass, s.oid, 'statistics', s.stxname::text, NULL
      FROM pg_statistic_ext s JOIN target t ON s.stxnamespace = t.oid
    UNION ALL
    SELECT 'pg_collation'::regclass, l.oid, 'collation', l.collname::text, NULL
      FROM pg_collation l JOIN target t ON l.collnamespace = t.oid
    UNION ALL
    SELECT 'pg_operator'::regclass, o.oid, 'operator', o.oprname::text, NULL
      FROM pg_operator o JOIN target t ON o.oprnamespace = t.oid
    UNION ALL
    SELECT 'pg_conversion'::regclass, v.oid, 'conversion', v.conname::text, NULL
      FROM pg_conversion v JOIN target t ON v.connamespace = t.oid
    UNION ALL
    SELECT 'pg_ts_config'::regclass, f.oid, 'text search configuration', f.cfgname::text, NULL
      FROM pg_ts_config f JOIN target t ON f.cfgnamespace = t.oid
    UNION ALL
    SELECT 'pg_ts_dict'::regclass, d.oid, 'text search dictionary', d.dictname::text, NULL
      FROM pg_ts_dict d JOIN target t ON d.dictnamespace = t.oid
)
SELECT CASE WHEN x.extname IS NULL THEN o.kind ELSE 'extension' END, coalesce(x.extname::text, o.name),
       CASE WHEN x.extname IS NULL THEN o.within END
  FROM objects o
  LEFT JOIN pg_depend d ON d.classid = o.classid AND d.objid = o.objid AND d.objsubid = 0 AND d.deptype = 'e'
  LEFT JOIN pg_extension x ON x.oid = d.refobjid
UNION
SELECT 'extension', x.extname::text, NULL FROM pg_extension x JOIN target t ON x.extnamespace = t.oid
"""

# Objects outside the schema that depend on one of its relations, functions or types, by OID. A view's dependency
# is recorded on its rewrite rule; a default's, a constraint's, a trigger's or a policy's on that part of its table;
# an operator class member's on the member: each is judged by, and named after, the object it is part of. Internal
# dependencies (a table's TOAST table, a type's array type) and extension membership are not dependents.
_DEPENDENTS = """
WITH target AS (SELECT oid FROM pg_namespace WHERE nspname = :schema),
members (classid, objid) AS (
    SELECT 'pg_class'::regclass, c.oid FROM pg_class c JOIN target t ON c.relnamespace = t.oid
    UNION ALL
    SELECT 'pg_proc'::regclass, p.oid FROM pg_proc p JOIN target t ON p.pronamespace = t.oid
    UNION ALL
    SELECT 'pg_type'::regclass, y.oid FROM pg_type y JOIN target t ON y.typnamespace = t.oid
),
dependents AS (  -- each dependent, and the object it is part of (a view's rule: the view; a default: its table...)
    SELECT DISTINCT d.classid, d.objid,
           CASE WHEN r.oid IS NOT NULL OR a.oid IS NOT NULL OR g.oid IS NOT NULL OR o.oid IS NOT NULL
                     OR k.conrelid <> 0 THEN 'pg_class'::regclass
                WHEN k.contypid <> 0 THEN 'pg_type'::regclass
                WHEN p.oid IS NOT NULL OR op.oid IS NOT NULL THEN 'pg_opfamily'::regclass
                ELSE d.classid END AS part_of_class,
           coalesce(r.ev_class, a.adrelid, g.tgrelid, o.polrelid, nullif(k.conrelid, 0), nullif(k.contypid, 0),
                    p.amprocfamily, op.amopfamily, d.objid) AS part_of
      FROM pg_depend d
      JOIN members m ON d.refclassid = m.classid AND d.refobjid = m.objid
      LEFT JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
      LEFT JOIN pg_attrdef a ON d.classid = 'pg_attrdef'::regclass AND a.oid = d.objid
      LEFT JOIN pg_trigger g ON d.classid = 'pg_trigger'::regclass AND g.oid = d.objid
      LEFT JOIN pg_policy o ON d.classid = 'pg_policy'::regclass AND o.oid = d.objid
      LEFT JOIN pg_constraint k ON d.classid = 'pg_constraint'::regclass AND k.oid = d.objid
      LEFT JOIN pg_amproc p ON d.classid = 'pg_amproc'::regclass AND p.oid = d.objid
      LEFT JOIN pg_amop op ON d.classid = 'pg_amop'::regclass AND op.oid = d.objid
     WHERE d.deptype IN ('n', 'a')
)
SELECT DISTINCT whole.identity,
       CASE WHEN x.classid = 'pg_rewrite'::regclass THEN whole.type ELSE own.type END
  FROM dependents x
 CROSS JOIN LATERAL pg_identify_object(x.classid, x.objid, 0) AS own
 CROSS JOIN LATERAL pg_identify_object(x.part_of_class, x.part_of, 0) AS whole
 WHERE whole.schema IS DISTINCT FROM :schema
 ORDER BY 1, 2
"""


class SchemaObject(NamedTuple):
    kind: str  # table, view, column, index, constraint, function, type, extension...
    name: str  # dim_staff, dim_staff.email_address, dim_staff_pkey on dim_staff, f(int4), pg_trgm...
    within: str | None  # the relation a column, index, constraint, trigger, policy or rule belongs to


def schema_objects(conn: pg8000.native.Connection, schema: str) -> set[SchemaObject]:
    """Every object of `schema` (empty if it does not exist)."""
    return {SchemaObject(str(kind), str(name), None if within is None else str(within))
            for kind, name, within in conn.run(_OBJECTS, schema=schema)}


def foreign_dependents(conn: pg8000.native.Connection, schema: str) -> list[str]:
    """The objects outside `schema` that depend on one of its objects, as `analyst.sales (view)`,
    `analyst.notes (table constraint)`, `analyst.notes (default value)`, sorted."""
    return [f"{identity} ({kind})" for identity, kind in conn.run(_DEPENDENTS, schema=schema)]
