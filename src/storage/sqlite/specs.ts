import { actorSpec } from './actors.js';
import { eventSpec, statementSpec } from './entries.js';
import { placeSpec } from './places.js';
import type { AnySpec } from './records.js';
import { sourceSpec } from './sources.js';
import type { RecordKind } from '../types.js';
import { timelineSpec } from './timelines.js';

/** Where each record kind is stored. */
export const RECORD_SPECS: Record<RecordKind, AnySpec> = {
  source: sourceSpec,
  place: placeSpec,
  actor: actorSpec,
  event: eventSpec,
  statement: statementSpec,
  timeline: timelineSpec,
};
