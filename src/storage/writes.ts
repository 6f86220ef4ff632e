import type { CitationWrite } from './citations.js';
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
