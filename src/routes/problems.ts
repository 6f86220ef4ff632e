import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { PROBLEM_CODES, PROBLEM_TYPES, notFound, problemType, type ProblemCode } from '../schemas/problems.js';
import { publicSecurity } from '../plugins/auth.js';
import { problemResponses } from '../schemas/common.js';

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Backticked words of a description, as code. */
const inline = (text: string) => escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');

/**
 * The page a problem's `type` URI resolves to. Plain markup, no script and no style, so it
 * renders under the service's `default-src 'self'` policy.
 */
function problemPage(code: ProblemCode): string {
  const { title, status, description } = PROBLEM_TYPES[code];
  const others = PROBLEM_CODES.filter((other) => other !== code)
    .map((other) => `<li><a href="${problemType(other)}">${escapeHtml(PROBLEM_TYPES[other].title)}</a> (${PROBLEM_TYPES[other].status})</li>`)
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}: Annals problem type</title>
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
<p>Problem type <code>${problemType(code)}</code>, answered with HTTP status ${status} as an RFC 9457
<code>application/problem+json</code> document whose <code>code</code> is <code>${code}</code>.</p>
<p>${inline(description)}</p>
<p>The <code>detail</code> member says what was wrong with this request. The API is described at
<a href="/docs/">/docs</a> (<a href="/openapi.json">/openapi.json</a>).</p>
<h2>Other problem types</h2>
<ul>
${others}
</ul>
</main>
</body>
</html>
`;
}

export async function problemRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const pages = new Map(PROBLEM_CODES.map((code) => [code, problemPage(code)]));

  app.get(
    '/problems/:code',
    {
      schema: {
        operationId: 'getProblemType',
        tags: ['Problems'],
        summary: 'What a problem type means',
        description:
          'The page a problem document\'s relative `type` URI (`/problems/{code}`) resolves to: what the problem ' +
          'means and what to do about it. Unknown codes are a 404.',
        security: publicSecurity,
        params: z.object({
          code: z.string().max(100).meta({ description: 'The problem code, as in the problem\'s `code` member.', example: 'validation-failed' }),
        }),
        response: {
          200: {
            description: 'A short HTML page explaining the problem type.',
            content: { 'text/html': { schema: z.string() } },
          },
          ...problemResponses(400, 404),
        },
      },
    },
    async (request, reply) => {
      const page = pages.get(request.params.code as ProblemCode);
      if (page === undefined) throw notFound(`no problem type ${JSON.stringify(request.params.code)}`);
      return reply.type('text/html; charset=utf-8').send(page);
    },
  );
}
