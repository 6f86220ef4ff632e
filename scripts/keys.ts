/**
 * npm run keys -- create --name NAME [--scopes read,write]
 * npm run keys -- list [--all]
 * npm run keys -- revoke ID
 */
import { parseArgs } from 'node:util';
import { SCOPES, type Scope } from '../src/storage/types.js';
import { fail, openConfiguredKeys } from './cli.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { name: { type: 'string' }, scopes: { type: 'string' }, all: { type: 'boolean' } },
});
const [command, argument] = positionals;
// keys stored by an earlier version (a bare SHA-256, a long hint) take today's form, as at start-up
const keys = await openConfiguredKeys();

switch (command) {
  case 'create': {
    if (!values.name) fail('usage: npm run keys -- create --name NAME [--scopes read,write,admin]');
    const scopes = (values.scopes ?? 'read,write').split(',').map((s) => s.trim());
    const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
    if (unknown.length) fail(`unknown scope ${unknown.join(', ')}; scopes are ${SCOPES.join(', ')}`);
    const { secret, key } = await keys.create(values.name, scopes as Scope[]);
    process.stderr.write(`created key ${key.id} "${key.name}" with scopes ${key.scopes.join(', ')}; the secret is shown once:\n`);
    process.stdout.write(`${secret}\n`);
    break;
  }
  case 'list':
    for (const key of await keys.list(values.all ?? false)) {
      const state = key.revokedAt ? `revoked ${key.revokedAt}` : 'active';
      process.stdout.write(`${key.id}\t${key.name}\t${key.hint}\t${key.scopes.join(',')}\t${key.createdAt}\t${state}\n`);
    }
    break;
  case 'revoke': {
    const id = Number(argument);
    if (!Number.isInteger(id) || id <= 0) fail('usage: npm run keys -- revoke ID');
    if (!(await keys.revoke(id))) fail(`no key ${id}`);
    process.stderr.write(`revoked key ${id}\n`);
    break;
  }
  default:
    fail('usage: npm run keys -- create --name NAME | list [--all] | revoke ID');
}
await keys.close();
