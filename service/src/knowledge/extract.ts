// Text out of an uploaded document: plain text and Markdown as they are, HTML through
// html-to-text (headings kept as Markdown `#` lines, so chunking can follow them), PDF through
// unpdf (pdf.js, pure JavaScript). Parsing is CPU work: `extractFile` runs it in a worker
// thread (extract-thread.ts), so a large PDF never holds the event loop that serves requests.
import { Worker } from 'node:worker_threads';
import type { KbDocumentRow } from '../db/schema.ts';

export type DocumentType = KbDocumentRow['contentType'];

/** A document that can never yield text (not a PDF, no text in it): retrying cannot help. */
export class ExtractionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ExtractionError';
  }
}

const BY_EXTENSION: Record<string, DocumentType> = {
  txt: 'text/plain',
  text: 'text/plain',
  md: 'text/markdown',
  markdown: 'text/markdown',
  html: 'text/html',
  htm: 'text/html',
  pdf: 'application/pdf',
};

const BY_MEDIA_TYPE: Record<string, DocumentType> = {
  'text/plain': 'text/plain',
  'text/markdown': 'text/markdown',
  'text/x-markdown': 'text/markdown',
  'text/html': 'text/html',
  'application/xhtml+xml': 'text/html',
  'application/pdf': 'application/pdf',
};

/** Media types that say nothing about the content: the file name's extension decides. */
const UNSPECIFIC = new Set(['', 'application/octet-stream', 'binary/octet-stream', 'text/plain']);

/**
 * The document type of an upload, from its media type or, when that says nothing more
 * specific than text/plain or octet-stream, its file name's extension. Undefined: not one
 * this service reads.
 */
export function documentType(mediaType: string | undefined, fileName: string): DocumentType | undefined {
  const media = (mediaType ?? '').split(';')[0]!.trim().toLowerCase();
  const extension = /\.([a-z0-9]+)$/i.exec(fileName)?.[1]?.toLowerCase();
  const byExtension = extension === undefined ? undefined : BY_EXTENSION[extension];
  if (UNSPECIFIC.has(media) && byExtension !== undefined) return byExtension;
  return BY_MEDIA_TYPE[media];
}

function decodeUtf8(bytes: Uint8Array): string {
  return new TextDecoder('utf-8').decode(bytes).replace(/^\uFEFF/, '');
}

async function htmlToText(html: string): Promise<string> {
  const { convert } = await import('html-to-text');
  const heading = (level: number) => ({ format: 'markdownHeading', options: { level } });
  return convert(html, {
    wordwrap: false,
    formatters: {
      markdownHeading(elem, walk, builder, options) {
        builder.openBlock({ leadingLineBreaks: 2 });
        builder.addLiteral(`${'#'.repeat(Number(options.level ?? 1))} `);
        walk(elem.children, builder);
        builder.closeBlock({ trailingLineBreaks: 2 });
      },
    },
    selectors: [
      { selector: 'h1', ...heading(1) },
      { selector: 'h2', ...heading(2) },
      { selector: 'h3', ...heading(3) },
      { selector: 'h4', ...heading(4) },
      { selector: 'h5', ...heading(5) },
      { selector: 'h6', ...heading(6) },
      { selector: 'a', options: { ignoreHref: true } },
      { selector: 'img', format: 'skip' },
      { selector: 'nav', format: 'skip' },
      { selector: 'head', format: 'skip' },
    ],
  });
}

async function pdfToText(bytes: Uint8Array): Promise<string> {
  if (decodeUtf8(bytes.subarray(0, 5)) !== '%PDF-') throw new ExtractionError('the file is not a PDF');
  const { extractText, getDocumentProxy } = await import('unpdf');
  let pages: string[];
  try {
    // verbosity 0: errors only; pdf.js warns on stdout, where the service's log lines go.
    const pdf = await getDocumentProxy(bytes, { verbosity: 0 });
    pages = (await extractText(pdf, { mergePages: false })).text;
  } catch (error) {
    throw new ExtractionError('the PDF could not be read', { cause: error });
  }
  return pages.map((page) => page.trim()).join('\n\n');
}

/** The document's text, with Markdown headings where the format has headings. */
export async function extractText(bytes: Uint8Array, type: DocumentType): Promise<string> {
  let text: string;
  switch (type) {
    case 'application/pdf':
      text = await pdfToText(bytes);
      break;
    case 'text/html':
      text = await htmlToText(decodeUtf8(bytes));
      break;
    default:
      text = decodeUtf8(bytes);
  }
  text = text.replace(/\r\n?/g, '\n');
  if (text.trim() === '') throw new ExtractionError('the document holds no text');
  return text;
}

/** What the extraction thread answers. */
export type ExtractionReply = { text: string } | { error: string; permanent: boolean };

/** Extracts a stored file's text in a worker thread. */
export function extractFile(path: string, type: DocumentType): Promise<string> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./extract-thread.ts', import.meta.url), {
      workerData: { path, type },
      resourceLimits: { maxOldGenerationSizeMb: 1024 },
    });
    let settled = false;
    worker.once('message', (reply: ExtractionReply) => {
      settled = true;
      if ('text' in reply) resolve(reply.text);
      else reject(reply.permanent ? new ExtractionError(reply.error) : new Error(reply.error));
      void worker.terminate();
    });
    worker.once('error', (error) => {
      if (!settled) reject(new Error('text extraction failed', { cause: error }));
      settled = true;
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`text extraction stopped (exit code ${code})`));
      settled = true;
    });
  });
}
