// ESLint 9 flat config: typescript-eslint's type-checked recommended rules over every
// TypeScript file the type check covers.
import eslint from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'openapi/', 'bench/profiles/', 'data/', 'migrations/', 'viewer/dist/'] },
  eslint.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
  },
  {
    rules: {
      // `_` marks a binding kept on purpose: a parameter a signature requires, a loop that only
      // counts or drains (`for (const _ of …)`), a field left out of a rest (`{ key: _key, ...rest }`)
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Fastify's contract, not a slip: a plugin (`async function routes(app)`) or a hook is async
    // so that fastify knows it is done when it returns (the other form takes and calls `done`);
    // route handlers are async alike, whether or not they have something to await.
    files: ['src/app.ts', 'src/plugins/query.ts', 'src/routes/*.ts'],
    rules: { '@typescript-eslint/require-await': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    // Tests assert on parsed JSON responses (`inject().json()` is `any` by fastify's types):
    // typing every response again would repeat the zod contracts the tests check against.
    // Each test file names that `any` once, as its `Json` type.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
