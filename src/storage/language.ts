/** A text in several languages: BCP 47 tag to text. */
export type LanguageMap = Record<string, string>;

/**
 * The tag of `tags` that `lang` picks: the one asked for (or one sharing its primary subtag),
 * else the original language, else English, else the first; undefined when there is none.
 */
export function chooseLanguage(tags: readonly string[], lang: string, original?: string | null): string | undefined {
  const wanted = lang.toLowerCase();
  const primary = wanted.split('-')[0];
  return (
    tags.find((t) => t.toLowerCase() === wanted) ??
    tags.find((t) => t.toLowerCase().split('-')[0] === primary) ??
    (original && tags.includes(original) ? original : undefined) ??
    (tags.includes('en') ? 'en' : undefined) ??
    tags[0]
  );
}

/**
 * Picks one language from a map (see {@link chooseLanguage}); without `lang`, the whole map.
 */
export function pickLanguage(map: LanguageMap, lang: string | undefined, original?: string | null): LanguageMap;
export function pickLanguage(map: LanguageMap | null, lang: string | undefined, original?: string | null): LanguageMap | null;
export function pickLanguage(map: LanguageMap | null, lang: string | undefined, original?: string | null): LanguageMap | null {
  if (map === null || lang === undefined) return map;
  const chosen = chooseLanguage(Object.keys(map), lang, original);
  return chosen === undefined ? {} : { [chosen]: map[chosen]! };
}

/**
 * What a loader puts in place of each language map of a record: for the API, the map narrowed
 * to one language ({@link languagePick}); for a stored document, a mark of where the map goes
 * (src/storage/documents.ts).
 */
export type LanguagePick = (map: LanguageMap, original?: string | null) => LanguageMap;

export const languagePick =
  (lang: string | undefined): LanguagePick =>
  (map, original) =>
    pickLanguage(map, lang, original);
