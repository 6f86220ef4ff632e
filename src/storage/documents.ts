/**
 * Rendered entries as an engine stores them: one document per entry, from which the JSON of
 * the entry in any language is cut without rendering it again.
 *
 * A language changes an entry only where a loader narrows a language map (its title, the
 * names of the actors and places it names, its sources' titles...): with `lang` each map
 * becomes the one member `lang` picks, without it the map stays whole. So the document is the
 * entry's JSON without `lang` (its bytes are the answer when no language is asked), plus
 * where each map with more than one member lies in those bytes and where each of its members
 * does. Asked for a language, the reader picks a member of each such map and copies the bytes
 * around it: no parsing of the entry, no rendering. A map of one member (or none) reads the
 * same in every language and is not listed.
 */
import { randomBytes } from 'node:crypto';
import { chooseLanguage, type LanguageMap, type LanguagePick } from './language.js';

/** A stored document: the UTF-8 JSON of the entry without `lang`, and its language maps. */
export interface EntryDocument {
  body: Buffer;
  /**
   * JSON of the maps with several members, in body order, each as
   * `[start, end, original, tag, memberStart, memberEnd, tag, memberStart, memberEnd, ...]`:
   * byte offsets into the body (the map's braces included in [start, end), each member's
   * `"tag":"text"` in [memberStart, memberEnd)), and the language the map falls back to
   * before English (a statement's original language, a source's own); null when no map has
   * several members.
   */
  languages: string | null;
}

export type StoredMap = (number | string | null)[];

interface MapBytes {
  bytes: Buffer;
  /** The map's entry in `languages`, its offsets relative to the map's start; null for one member or none. */
  languages: StoredMap | null;
}

const MARK_END = Buffer.from('"}');

/**
 * Renders the documents of entries loaded with its {@link pick}. The loader gets, for each
 * map, a stand-in map whose only member is a mark (a tag no data can have: not a language tag,
 * and a random nonce) with the map's number; the entry is serialised by
 * JSON.stringify as the API would, and each stand-in in the bytes is replaced by the real
 * map's JSON, where JSON.stringify would have written it. A mark cannot be mistaken for data:
 * in JSON text `{"` never occurs inside a string (a quote there is escaped), and the tag
 * after it would have to be the nonce.
 */
export class DocumentRenderer {
  // ASCII, so that JSON.stringify keeps to its fast path for one-byte text
  readonly #tag = `~map~${randomBytes(9).toString('base64url')}`;
  readonly #mark = Buffer.from(`{"${this.#tag}":"`);
  readonly #maps: { map: LanguageMap; original: string | null }[] = [];
  readonly #bytes = new Map<number, MapBytes>();

  readonly pick: LanguagePick = (map, original) => {
    // a map of one member or none reads the same in every language: written as it is
    let members = 0;
    for (const tag in map) if (Object.hasOwn(map, tag) && ++members > 1) break;
    if (members < 2) return map;
    this.#maps.push({ map, original: original ?? null });
    return { [this.#tag]: String(this.#maps.length - 1) };
  };

  /** The document of an entry loaded with {@link pick}. */
  render(entry: object): EntryDocument {
    const json = Buffer.from(JSON.stringify(entry));
    const mark = this.#mark;
    let found = json.indexOf(mark);
    if (found < 0) return { body: json, languages: null };
    const parts: Buffer[] = [];
    const maps: StoredMap[] = [];
    let length = 0;
    let at = 0;
    while (found >= 0) {
      parts.push(json.subarray(at, found));
      length += found - at;
      const close = json.indexOf(MARK_END, found + mark.length);
      const map = this.#mapBytes(Number(json.toString('latin1', found + mark.length, close)));
      parts.push(map.bytes);
      if (map.languages !== null) {
        const offset = length;
        maps.push(map.languages.map((value) => (typeof value === 'number' ? value + offset : value)));
      }
      length += map.bytes.length;
      at = close + MARK_END.length;
      found = json.indexOf(mark, at);
    }
    parts.push(json.subarray(at));
    length += json.length - at;
    return { body: Buffer.concat(parts, length), languages: maps.length === 0 ? null : JSON.stringify(maps) };
  }

  #mapBytes(n: number): MapBytes {
    let bytes = this.#bytes.get(n);
    if (bytes !== undefined) return bytes;
    const { map, original } = this.#maps[n]!;
    const json = Buffer.from(JSON.stringify(map));
    const tags = Object.keys(map);
    let languages: StoredMap | null = null;
    if (tags.length > 1) {
      // JSON.stringify of an object of strings: its members in key order, `,` between them. A
      // member ends where `,"<next tag>":` begins, which cannot occur inside a string (its quotes
      // would be escaped there)
      languages = [0, json.length, original];
      let start = 1;
      tags.forEach((tag, i) => {
        const next = tags[i + 1];
        const end = next === undefined ? json.length - 1 : json.indexOf(`,${JSON.stringify(next)}:`, start);
        languages!.push(tag, start, end);
        start = end + 1;
      });
    }
    bytes = { bytes: json, languages };
    this.#bytes.set(n, bytes);
    return bytes;
  }
}

/**
 * The member each map's languages make `lang` pick, by the map's original language and tags:
 * the maps of a page share few of those (the same two languages, say), so a reader of many
 * documents in one language chooses once for each.
 */
export class LanguageChoices {
  readonly #chosen = new Map<string, number>();

  constructor(readonly lang: string) {}

  /** The index in `tags` of the tag `lang` picks. */
  choose(tags: string[], original: string | null): number {
    const key = `${original}\0${tags.join('\0')}`;
    let chosen = this.#chosen.get(key);
    if (chosen === undefined) {
      chosen = tags.indexOf(chooseLanguage(tags, this.lang, original)!);
      this.#chosen.set(key, chosen);
    }
    return chosen;
  }
}

/**
 * The entry's JSON in `lang` (undefined: every language), as JSON.stringify of the entry
 * loaded with that language would write it. `choices` may be shared by the documents read
 * together in the same language.
 */
export function documentJson(document: EntryDocument, lang: string | undefined, choices?: LanguageChoices): Buffer {
  if (lang === undefined || document.languages === null) return document.body;
  return cutLanguages(document.body, JSON.parse(document.languages) as StoredMap[], lang, choices);
}

/**
 * Documents read together as one row of aggregates, which an engine returns faster than a row
 * per document (one buffer and one string to make, not one of each per document): the
 * entries' ids, each body's length, the bodies one after another, and each one's language
 * maps (its `languages` parsed; null for a document without).
 */
export interface DocumentBatch {
  ids: number[];
  lengths: number[];
  bodies: Buffer;
  languages: (StoredMap[] | null)[];
}

/** The JSON in `lang` of each document of the batch, by entry id. */
export function documentBatchJson(batch: DocumentBatch, lang: string | undefined): Map<number, Buffer> {
  const found = new Map<number, Buffer>();
  const choices = lang === undefined ? undefined : new LanguageChoices(lang);
  let at = 0;
  batch.ids.forEach((id, i) => {
    const body = batch.bodies.subarray(at, (at += batch.lengths[i]!));
    const maps = batch.languages[i] ?? null;
    found.set(id, lang === undefined || maps === null ? body : cutLanguages(body, maps, lang, choices));
  });
  return found;
}

function cutLanguages(body: Buffer, maps: StoredMap[], lang: string, choices?: LanguageChoices): Buffer {
  const choose = choices?.lang === lang ? choices : new LanguageChoices(lang);
  // the spans of the body to copy, in order: up to each map's `{`, the chosen member, and from its `}` on
  const spans: number[] = [];
  let length = 0;
  let at = 0;
  for (const stored of maps) {
    const tags: string[] = [];
    for (let i = 3; i < stored.length; i += 3) tags.push(stored[i] as string);
    const chosen = choose.choose(tags, stored[2] as string | null) * 3 + 3;
    const open = (stored[0] as number) + 1;
    const memberStart = stored[chosen + 1] as number;
    const memberEnd = stored[chosen + 2] as number;
    spans.push(at, open, memberStart, memberEnd);
    length += open - at + memberEnd - memberStart;
    at = (stored[1] as number) - 1;
  }
  spans.push(at, body.length);
  length += body.length - at;
  const json = Buffer.allocUnsafe(length);
  let written = 0;
  for (let i = 0; i < spans.length; i += 2) written += body.copy(json, written, spans[i], spans[i + 1]);
  return json;
}

/** Records written into the documents of entries other than their own. */
export type EmbeddedKind = 'actor' | 'place' | 'source' | 'event';

export const EMBEDDED_KINDS: readonly EmbeddedKind[] = ['actor', 'place', 'source', 'event'];

/** Changes past which an engine writes the documents at once instead of at the end of the transaction. */
const REFRESH_AFTER = 2000;

/**
 * What a write transaction changed that its documents do not show yet: the entries it stored,
 * and the records other entries embed (an actor renamed is in every entry naming it). Each
 * engine finds the entries those records reach and renders them before the transaction
 * commits, or sooner when many are waiting, so that a long import keeps little in memory.
 */
export class EntryDocumentChanges {
  readonly entries = new Set<number>();
  readonly embedded: Record<EmbeddedKind, Set<number>> = { actor: new Set(), place: new Set(), source: new Set(), event: new Set() };
  #size = 0;

  /** The entry `id` was created or replaced; true when enough changes wait to be written now. */
  entryStored(id: number): boolean {
    this.entries.add(id);
    return ++this.#size >= REFRESH_AFTER;
  }

  /** A record other entries embed was replaced; true when enough changes wait to be written now. */
  embeddedRecordStored(kind: EmbeddedKind, id: number): boolean {
    this.embedded[kind].add(id);
    return ++this.#size >= REFRESH_AFTER;
  }
}

/**
 * Entries a write reaches only through a record they embed (an actor renamed that thousands of
 * entries name), past which the write removes their documents instead of rendering them: the
 * rendering would hold the write lock (and, on SQLite, the event loop) for as long as the
 * entries take, seconds for a popular actor, while every other write waits and, on SQLite,
 * every request. The pass over missing documents renders them again between requests, a page
 * at a time; meanwhile each is read from its rows, as after a bulk load: slower, never stale.
 */
export const REACHED_RENDER_LIMIT = 1000;

/** Entries rendered together: one query per table for the page. */
export const ENTRY_DOCUMENTS_PAGE = 250;

/**
 * Bump when what an entry renders changes (a field added to EntryDto, another format of the
 * documents): start-up then renders every document again, on every engine.
 */
export const ENTRY_DOCUMENTS_VERSION = '1';

/** The `settings` row naming the version of the stored documents. */
export const ENTRY_DOCUMENTS_VERSION_SETTING = 'entry_documents_version';

/**
 * Entry ids one step of a pass over the missing documents looks through: a few milliseconds,
 * so that a pass over a large database holds neither the event loop nor the writers for long.
 */
const SCAN_IDS = 5000;

/**
 * The ids a step of the missing-documents pass looks through after `after`, up to the last
 * entry `last` (null: no entry past `after`, the pass is done).
 */
export function missingDocumentsRange(after: number, last: number | null): MissingDocumentsRange | null {
  if (last === null || after >= last) return null;
  return { from: after, to: after + SCAN_IDS, last };
}

export interface MissingDocumentsRange {
  /** Entry ids past `from`, up to `to` included. */
  from: number;
  to: number;
  /** The last entry's id. */
  last: number;
}

/** Where the pass goes on after a step that found `ids` (at most `limit`) without a document in `range`. */
export function missingDocumentsNext(ids: number[], limit: number, range: MissingDocumentsRange): number {
  return ids.length === limit ? ids[ids.length - 1]! : Math.min(range.to, range.last);
}
