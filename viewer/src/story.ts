// A curated timeline as a TimelineJS3 story: TimelineJS is served by Annals (/viewer/timelinejs/),
// its data is our own TimelineJS format endpoint, and it loads no font or anything else from elsewhere.
interface TimelineJs {
  Timeline: new (container: string, data: unknown, options: Record<string, unknown>) => unknown;
}

/** TimelineJS3's global, defined once its script has run. */
const timelineJs = () => (window as Window & { TL?: TimelineJs }).TL;

const BASE = `${location.origin}/viewer/timelinejs/`;

function load<T extends HTMLLinkElement | HTMLScriptElement>(element: T): Promise<void> {
  return new Promise((resolve, reject) => {
    element.addEventListener('load', () => resolve());
    element.addEventListener('error', () => reject(new Error('TimelineJS could not be loaded')));
    document.head.append(element);
  });
}

async function main(): Promise<void> {
  const slug = decodeURIComponent(location.pathname.replace(/^\/timelines\//, '').replace(/\/$/, ''));
  const lang = new URLSearchParams(location.search).get('lang') === 'ar' ? 'ar' : 'en';
  document.documentElement.lang = lang;
  document.documentElement.dir = lang === 'ar' ? 'rtl' : 'ltr';
  const back = document.getElementById('back') as HTMLAnchorElement;
  back.href = lang === 'ar' ? '/?lang=ar' : '/';
  back.textContent = lang === 'ar' ? 'الحوليات' : 'Annals';

  const css = document.createElement('link');
  css.rel = 'stylesheet';
  css.href = `${BASE}css/timeline.css`;
  const script = document.createElement('script');
  script.src = `${BASE}js/timeline.js`;
  const [response] = await Promise.all([
    fetch(`/v1/timelines/${encodeURIComponent(slug)}?format=timelinejs&lang=${lang}`, { headers: { accept: 'application/json' } }),
    load(css),
    load(script),
  ]);
  if (!response.ok) throw new Error(`the timeline could not be read (${response.status})`);
  const data = (await response.json()) as { title?: { text?: { headline?: string } } };
  const title = document.getElementById('story-title')!;
  // the headline is HTML-escaped text in the TimelineJS format: read back as text, never as markup
  title.textContent = new DOMParser().parseFromString(data.title?.text?.headline ?? slug, 'text/html').body.textContent;
  document.title = title.textContent ?? slug;
  const TL = timelineJs();
  if (!TL) throw new Error('TimelineJS did not define TL');
  new TL.Timeline('timeline-embed', data, {
    font: null,
    theme: null,
    script_path: `${BASE}js/`,
    language: lang,
    hash_bookmark: false,
    timenav_position: 'bottom',
  });
  document.body.dataset.ready = 'true';
}

main().catch((error: unknown) => {
  const message = document.createElement('p');
  message.className = 'story-error';
  message.textContent = error instanceof Error ? error.message : String(error);
  document.body.append(message);
});
