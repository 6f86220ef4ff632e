import type { Db } from './client.js';
import { discardEntryDocumentChanges, refreshEntryDocuments } from './documents.js';
import { bumpRevision } from './settings.js';
import { clientOf } from './statements.js';

/** A transaction as drizzle hands it to `db.transaction`'s callback. */
export type Transaction = Parameters<Parameters<Db['transaction']>[0]>[0];
/** A transaction or the database: repositories accept either. */
export type Tx = Db | Transaction;

export const now = () => new Date().toISOString();

/**
 * Runs `work` in a write transaction that takes the write lock at once (BEGIN IMMEDIATE), and
 * brings the documents of the entries it changed up to date before it commits.
 */
export function writeTransaction<T>(db: Db | Tx, work: (tx: Tx) => T): T {
  const outermost = !clientOf(db).inTransaction;
  try {
    // inside another transaction this is a savepoint of it
    return db.transaction(
      (tx) => {
        const result = work(tx);
        refreshEntryDocuments(tx);
        bumpRevision(tx);
        return result;
      },
      { behavior: 'immediate' },
    );
  } catch (error) {
    // rolled back: nothing it changed is left to render (a savepoint's changes stay pending
    // with the rest of its transaction's, rendered from whatever is stored by then)
    if (outermost) discardEntryDocumentChanges(db);
    throw error;
  }
}

/**
 * What a write transaction has looked up already, for a run of records written in it (an
 * import batch): references resolved to ids, and the search text of actors' and places'
 * names. Only found ids are kept (a key missing now may be created by a later record), and
 * timelines are not (their slugs can change); whoever changes a name forgets it. A record
 * is refused before it writes anything, so nothing cached can be undone under the cache.
 */
export interface WriteCache {
  refs: Map<string, number>;
  names: Map<string, string>;
  /**
   * Carried from batch to batch (a bulk load): references to events and statements are not
   * kept, since few are looked up twice and a long-lived map of them only grows the heap.
   */
  acrossBatches: boolean;
}

const writeCaches = new WeakMap<object, WriteCache>();

export const newWriteCache = (acrossBatches = false): WriteCache => ({ refs: new Map(), names: new Map(), acrossBatches });

/**
 * Runs `work` with a write cache for `tx`: a new one, or `cache` carried over from earlier
 * work in the same transaction. A cache must not outlive the transaction it was filled in.
 */
export function withWriteCache<T>(tx: Tx, work: () => T, cache: WriteCache = newWriteCache()): T {
  writeCaches.set(tx, cache);
  try {
    return work();
  } finally {
    writeCaches.delete(tx);
  }
}

export const writeCacheOf = (tx: Tx): WriteCache | undefined => writeCaches.get(tx);
