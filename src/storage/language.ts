/** A text in several languages: BCP 47 tag to text. */
export type LanguageMap = Record<string, string>;

/**
 * Picks one language from a map: the one asked for (or one sharing its primary subtag),
 * else the original language, else English, else the first. Without `lang`, the whole map.
 */
export function pickLanguage(map: LanguageMap, lang: string | undefined, original?: string | null): LanguageMap;
export function pickLanguage(map: LanguageMap | null, lang: string | undefined, original?: string | null): LanguageMap | null;
export function pickLanguage(map: LanguageMap | null, lang: string | undefined, original?: string | null): LanguageMap | null {
  if (map === null || lang === undefined) return map;
  const tags = Object.keys(map);
  const wanted = lang.toLowerCase();
  const primary = wanted.split('-')[0];
  const chosen =
    tags.find((t) => t.toLowerCase() === wanted) ??
    tags.find((t) => t.toLowerCase().split('-')[0] === primary) ??
    (original && tags.includes(original) ? original : undefined) ??
    (tags.includes('en') ? 'en' : undefined) ??
    tags[0];
  return chosen === undefined ? {} : { [chosen]: map[chosen]! };
}
