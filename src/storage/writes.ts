import type { CitationWrite } from './citations.js';
import { dateColumns } from './dates.js';
import type { LanguageMap } from './language.js';

/**
 * An event or statement as the engines write it, its references resolved to ids: the same
 * shape for every engine, which each stores in `entries` and its child tables.
 */
export interface EventWrite {
  key: string;
  type: string;
  date: string;
  title: LanguageMap;
  description: LanguageMap | null;
  placeIds: number[];
  actors: { actorId: number; role: string }[];
  tags: string[];
  parentId: number | null;
  sources: CitationWrite[];
}

export interface StatementWrite {
  key: string;
  type: string;
  date: string;
  speakerId: number;
  text: LanguageMap;
  originalLang: string | null;
  contextId: number | null;
  about: { actorIds: number[]; placeIds: number[]; eventIds: number[] };
  sources: CitationWrite[];
}

/** The `entries` row of an entry, as every engine stores it (its id and timestamps aside). */
export interface EntryColumns extends ReturnType<typeof dateColumns> {
  key: string;
  kind: 'event' | 'statement';
  type: string;
  title: LanguageMap | null;
  description: LanguageMap | null;
  text: LanguageMap | null;
  originalLang: string | null;
  speakerId: number | null;
  contextId: number | null;
  parentId: number | null;
}

/** What an entry's child tables hold, in order: its actors with their roles, places, events, tags and citations. */
export interface EntryChildren {
  actors: { actorId: number; role: string }[];
  placeIds: number[];
  eventIds: number[];
  tags: string[];
  sources: CitationWrite[];
}

export const eventColumns = (write: EventWrite): EntryColumns => ({
  key: write.key,
  kind: 'event',
  type: write.type,
  ...dateColumns(write.date),
  title: write.title,
  description: write.description,
  text: null,
  originalLang: null,
  speakerId: null,
  contextId: null,
  parentId: write.parentId,
});

export const eventChildren = (write: EventWrite): EntryChildren => ({
  actors: write.actors,
  placeIds: write.placeIds,
  eventIds: [],
  tags: write.tags,
  sources: write.sources,
});

export const statementColumns = (write: StatementWrite): EntryColumns => ({
  key: write.key,
  kind: 'statement',
  type: write.type,
  ...dateColumns(write.date),
  title: null,
  description: null,
  text: write.text,
  originalLang: write.originalLang,
  speakerId: write.speakerId,
  contextId: write.contextId,
  parentId: null,
});

/** A statement's links: its speaker, then the actors it is about; the places and events it is about. */
export const statementChildren = (write: StatementWrite): EntryChildren => ({
  actors: [{ actorId: write.speakerId, role: 'speaker' }, ...write.about.actorIds.map((actorId) => ({ actorId, role: 'about' }))],
  placeIds: write.about.placeIds,
  eventIds: write.about.eventIds,
  tags: [],
  sources: write.sources,
});
