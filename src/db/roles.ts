/**
 * Two database roles: the owner, who runs migrations and owns every table,
 * and the service role the API and workers connect as, which may read and
 * write rows but never change, drop or create the schema. A flaw in a query
 * or a stolen connection then cannot take the schema with it.
 *
 * After each migration pass the owner grants the service role what it needs
 * on whatever exists (tables, sequences and functions of the service's
 * schema and of the queue's), so a new table is covered as soon as it is
 * created.
 */
import pg from 'pg';

/** The role name in a postgres:// URL. */
export function roleOf(url: string): string {
  return decodeURIComponent(new URL(url).username);
}

/** An identifier, quoted for SQL. */
function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Grants `role` row access to the service's and the queue's objects, on the
 * owner's connection. Nothing to do when the service connects as the owner.
 */
export async function grantServiceRole(owner: pg.ClientBase, role: string, schemas: readonly string[]): Promise<void> {
  const { rows } = await owner.query<{ current_user: string; maintain: boolean; db: string }>(
    `SELECT current_user, current_setting('server_version_num')::int >= 170000 AS maintain, current_database() AS db`,
  );
  const me = rows[0]!;
  if (me.current_user === role) return;
  const r = ident(role);
  const list = schemas.map(ident).join(', ');
  await owner.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${ident(me.db)} TO ${r}`);
  await owner.query(`GRANT USAGE ON SCHEMA ${list} TO ${r}`);
  // MAINTAIN (PostgreSQL 17+) lets the service ANALYZE what it has just loaded.
  await owner.query(`GRANT SELECT, INSERT, UPDATE, DELETE${me.maintain ? ', MAINTAIN' : ''} ON ALL TABLES IN SCHEMA ${list} TO ${r}`);
  await owner.query(`GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA ${list} TO ${r}`);
  await owner.query(`GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${list} TO ${r}`);
  // The migration record is the owner's alone.
  await owner.query(`REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM ${r}`);
}

export interface RolePair {
  readonly owner: { readonly name: string; readonly password: string };
  readonly service: { readonly name: string; readonly password: string };
}

/**
 * On a server this process administers (the embedded one): makes sure both
 * roles exist with these passwords and the owner owns `database`; with
 * `adopt` (a new cluster, or one from before the roles existed, whose objects
 * the superuser owns), also hands the owner everything in the service's and
 * the queue's schemas. A restart of a cluster that has its roles skips that
 * scan of the catalog.
 */
export async function ensureRoles(superuserUrl: string, database: string, roles: RolePair, adopt: boolean): Promise<void> {
  const admin = new pg.Client({ connectionString: superuserUrl });
  await admin.connect();
  try {
    for (const role of [roles.owner, roles.service]) {
      const exists = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role.name]);
      // A password cannot be a bind parameter of CREATE/ALTER ROLE; it is a literal, escaped by the driver.
      const password = admin.escapeLiteral(role.password);
      await admin.query(`${exists.rowCount ? 'ALTER' : 'CREATE'} ROLE ${ident(role.name)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD ${password}`);
    }
    const db = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!db.rowCount) await admin.query(`CREATE DATABASE ${ident(database)} OWNER ${ident(roles.owner.name)}`);
    else await admin.query(`ALTER DATABASE ${ident(database)} OWNER TO ${ident(roles.owner.name)}`);
  } finally {
    await admin.end();
  }
  if (!adopt) return;
  const url = new URL(superuserUrl);
  url.pathname = `/${database}`;
  const inDb = new pg.Client({ connectionString: url.toString() });
  await inDb.connect();
  try {
    await inDb.query(`SELECT set_config('care.owner', $1, false)`, [roles.owner.name]);
    await inDb.query(`
      DO $$
      DECLARE
        owner text := current_setting('care.owner');
        o record;
      BEGIN
        EXECUTE format('ALTER SCHEMA public OWNER TO %I', owner);
        FOR o IN SELECT c.oid, n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname IN ('public', 'pgboss') AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
                    AND pg_get_userbyid(c.relowner) <> owner LOOP
          -- Sequences owned by a table column follow their table.
          CONTINUE WHEN o.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d
                                                      WHERE d.classid = 'pg_class'::regclass AND d.objid = o.oid AND d.deptype IN ('a', 'i'));
          EXECUTE format('ALTER %s %I.%I OWNER TO %I',
            CASE o.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
            o.nspname, o.relname, owner);
        END LOOP;
        FOR o IN SELECT p.oid::regprocedure AS sig, p.prokind FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                  WHERE n.nspname IN ('public', 'pgboss') AND pg_get_userbyid(p.proowner) <> owner LOOP
          EXECUTE format('ALTER %s %s OWNER TO %I', CASE o.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, o.sig, owner);
        END LOOP;
        FOR o IN SELECT n.nspname, t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                  WHERE n.nspname IN ('public', 'pgboss') AND t.typtype IN ('e', 'd', 'c') AND t.typrelid = 0
                    AND pg_get_userbyid(t.typowner) <> owner LOOP
          EXECUTE format('ALTER TYPE %I.%I OWNER TO %I', o.nspname, o.typname, owner);
        END LOOP;
        IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'pgboss') THEN
          EXECUTE format('ALTER SCHEMA pgboss OWNER TO %I', owner);
        END IF;
      END $$`);
  } finally {
    await inDb.end();
  }
}
