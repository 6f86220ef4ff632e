/** The shapes of the public API's answers that the viewer reads (see /openapi.json). */
export type LanguageMap = Record<string, string>;

export interface DatePoint {
  edtf: string;
  precision: 'year' | 'month' | 'day' | 'instant';
  earliest: string;
  latest: string;
  instant?: string;
  uncertain: boolean;
  approximate: boolean;
}

export interface DateValue {
  edtf: string;
  precision: 'year' | 'month' | 'day' | 'instant' | 'interval';
  earliest: string | null;
  latest: string | null;
  instant?: string;
  uncertain: boolean;
  approximate: boolean;
  start?: DatePoint | null;
  end?: DatePoint | null;
}

export interface ActorRef {
  id: number;
  key: string;
  type: string;
  name: LanguageMap;
}

export interface PlaceRef extends ActorRef {
  countryCode: string | null;
}

export interface SourceRef {
  id: number;
  key: string;
  type: string;
  title: LanguageMap | null;
  outlet: string | null;
  url: string | null;
  published: DateValue | null;
}

export interface Citation {
  source: SourceRef;
  excerpt: string | null;
  start: number | null;
  end: number | null;
}

export interface EventRef {
  id: number;
  key: string;
  type: string;
  title: LanguageMap;
  date: DateValue;
}

export interface SpeakerRole {
  role: string;
  of: ActorRef;
  date: DateValue | null;
}

interface EntryBase {
  id: number;
  key: string;
  type: string;
  date: DateValue;
  sources: Citation[];
}

export interface EventEntry extends EntryBase {
  kind: 'event';
  title: LanguageMap;
  description: LanguageMap | null;
  places: PlaceRef[];
  actors: { actor: ActorRef; role: string }[];
  tags: string[];
  parent: EventRef | null;
}

export interface StatementEntry extends EntryBase {
  kind: 'statement';
  speaker: ActorRef & { roles: SpeakerRole[] };
  text: LanguageMap;
  originalLang: string | null;
  context: EventRef | null;
  about: { actors: ActorRef[]; places: PlaceRef[]; events: EventRef[] };
}

export type Entry = EventEntry | StatementEntry;

export interface Page<T> {
  data: T[];
  page: { nextCursor: string | null; limit: number };
}

export interface Bucket {
  start: string;
  end: string;
  count: number;
  imprecise: number;
}

export interface Histogram {
  interval: 'day' | 'week' | 'month' | 'year';
  from: string | null;
  to: string | null;
  buckets: Bucket[];
}

export interface Source {
  id: number;
  key: string;
  title: LanguageMap | null;
  outlet: string | null;
  url: string | null;
  lang: string | null;
  text: string | null;
}

export interface CuratedTimeline {
  key: string;
  slug: string;
  title: LanguageMap;
}
