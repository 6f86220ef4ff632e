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

type StoredMap = (number | string | null)[];

interface MapBytes {
  bytes: Buffer;
  /** The map's entry in `languages`, its offsets relative to the map's start; null for one member or none. */
  languages: StoredMap | null;
}

const OPEN = Buffer.from('{');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from('}');
const MARK_END = Buffer.from('"}');

/**
 * Renders the documents of entries loaded with its {@link pick}. The loader gets, for each
 * map, a stand-in map whose only member is a mark (a tag no data can have: a private-use
 * character and a random nonce) with the map's number; the entry is serialised by
 * JSON.stringify as the API would, and each stand-in in the bytes is replaced by the real
 * map's JSON, where JSON.stringify would have written it. A mark cannot be mistaken for data:
 * in JSON text `{"` never occurs inside a string (a quote there is escaped), and the tag
 * after it would have to be the nonce.
 */
export class DocumentRenderer {
  readonly #tag = `\uE000${randomBytes(9).toString('base64url')}`;
  readonly #mark = Buffer.from(`{"${this.#tag}":"`);
  readonly #maps: { map: LanguageMap; original: string | null }[] = [];
  readonly #bytes = new Map<number, MapBytes>();

  readonly pick: LanguagePick = (map, original) => {
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
    const tags = Object.keys(map);
    // JSON.stringify of an object of strings: its members in key order, each as it would be alone
    const members = tags.map((tag) => Buffer.from(`${JSON.stringify(tag)}:${JSON.stringify(map[tag])}`));
    const parts = [OPEN];
    members.forEach((member, i) => parts.push(...(i === 0 ? [member] : [COMMA, member])));
    parts.push(CLOSE);
    const joined = Buffer.concat(parts);
    let languages: StoredMap | null = null;
    if (members.length > 1) {
      languages = [0, joined.length, original];
      let offset = 1;
      members.forEach((member, i) => {
        languages!.push(tags[i]!, offset, offset + member.length);
        offset += member.length + 1;
      });
    }
    bytes = { bytes: joined, languages };
    this.#bytes.set(n, bytes);
    return bytes;
  }
}

/**
 * The entry's JSON in `lang` (undefined: every language), as JSON.stringify of the entry
 * loaded with that language would write it.
 */
export function documentJson(document: EntryDocument, lang: string | undefined): Buffer {
  if (lang === undefined || document.languages === null) return document.body;
  const body = document.body;
  const parts: Buffer[] = [];
  let at = 0;
  for (const stored of JSON.parse(document.languages) as StoredMap[]) {
    const tags: string[] = [];
    for (let i = 3; i < stored.length; i += 3) tags.push(stored[i] as string);
    const chosen = tags.indexOf(chooseLanguage(tags, lang, stored[2] as string | null)!) * 3 + 3;
    // the map's `{`, the chosen member, and from its `}` on
    parts.push(body.subarray(at, (stored[0] as number) + 1), body.subarray(stored[chosen + 1] as number, stored[chosen + 2] as number));
    at = (stored[1] as number) - 1;
  }
  parts.push(body.subarray(at));
  return Buffer.concat(parts);
}
