import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './src/storage/sqlite/schema.ts',
  out: './migrations',
  dbCredentials: { url: process.env.ANNALS_DB ?? 'data/annals.db' },
});
