import type Database from 'better-sqlite3';

/**
 * Prepared statements cached per connection, for the hot paths (import, timeline pages):
 * drizzle builds and prepares a statement on every call, which costs more than running it.
 * The SQL texts are constants of the repositories.
 */
const cache = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/** The better-sqlite3 connection under a drizzle database or transaction. */
export function clientOf(db: object): Database.Database {
  const withClient = db as { $client?: Database.Database; session?: { client: Database.Database } };
  return withClient.$client ?? withClient.session!.client;
}

export function prepared(db: object, sqlText: string): Database.Statement {
  const client = clientOf(db);
  let statements = cache.get(client);
  if (!statements) {
    statements = new Map();
    cache.set(client, statements);
  }
  let statement = statements.get(sqlText);
  if (!statement) {
    statement = client.prepare(sqlText);
    statements.set(sqlText, statement);
  }
  return statement;
}
