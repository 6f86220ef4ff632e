import { defineConfig } from 'drizzle-kit';

// The PostgreSQL engine's migrations (`npm run db:generate:pg`), in a folder of their own:
// the SQLite ones stay in migrations/ (drizzle.config.ts).
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/storage/postgres/schema.ts',
  out: './migrations/pg',
  dbCredentials: { url: process.env.ANNALS_DB ?? 'postgres://127.0.0.1:5432/annals' },
});
