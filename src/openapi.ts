import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

/** The parts of the OpenAPI document that do not come from the routes. */
export const openapiDocumentBase = {
  openapi: '3.1.0',
  info: {
    title: 'Annals',
    version: pkg.version,
    description:
      'Event timelines: dated events and the statements actors made, each tied to its sources, with dates ' +
      'that keep their precision (EDTF). Reads are public; writes need an API key (`Authorization: Bearer …`). ' +
      'Errors are RFC 9457 problem details.',
    license: { name: 'MIT', identifier: 'MIT' },
  },
  // relative: the server that serves this document (whatever its host and port)
  servers: [{ url: '/', description: 'The server that serves this document' }],
  tags: [
    { name: 'Timeline', description: 'Chronological queries over events and statements.' },
    { name: 'Events', description: 'Things that happened.' },
    { name: 'Statements', description: 'Things actors said or published.' },
    { name: 'Actors', description: 'People, organisations, states and groups.' },
    { name: 'Places', description: 'Countries, regions, cities and sites.' },
    { name: 'Sources', description: 'Documents the facts come from.' },
    { name: 'Curated timelines', description: 'Named, ordered collections of events and statements.' },
    { name: 'Import and export', description: 'Bulk exchange in the interchange NDJSON format.' },
    { name: 'Operations', description: 'Health of the service.' },
  ],
  components: {
    securitySchemes: {
      bearerAuth: {
        type: 'http' as const,
        scheme: 'bearer',
        description: 'An API key created with `npm run keys -- create --name NAME`.',
      },
    },
  },
};

/**
 * Drops component schemas that no operation reaches. The zod type provider registers every
 * named schema twice (an input and an output variant); most are used on one side only.
 */
export function pruneUnusedSchemas<T extends { paths?: unknown; components?: { schemas?: Record<string, unknown> } }>(
  document: T,
): T {
  const schemas = document.components?.schemas;
  if (!schemas) return document;
  const used = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === '$ref' && typeof value === 'string' && value.startsWith('#/components/schemas/')) {
          const name = value.slice('#/components/schemas/'.length);
          if (!used.has(name)) {
            used.add(name);
            visit(schemas[name]);
          }
        } else visit(value);
      }
    }
  };
  visit(document.paths);
  const kept = Object.fromEntries(Object.entries(schemas).filter(([name]) => used.has(name)).sort(([a], [b]) => (a < b ? -1 : 1)));
  return { ...document, components: { ...document.components, schemas: kept } };
}
