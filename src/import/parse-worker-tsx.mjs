// Entry of the parsing worker when run from TypeScript sources (tsx, vitest): on Node 20 a
// worker gets neither the main thread's loader hooks nor, for its entry module, those of an
// `--import tsx` in its execArgv, so it registers tsx itself before loading the worker.
import { register } from 'tsx/esm/api';

register();
await import('./parse-worker.ts');
