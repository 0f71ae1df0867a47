// Text extraction and chunking, without a database.
import { describe, expect, it } from 'vitest';
import { chunkText, embeddingInput, sections } from '../src/knowledge/chunk.ts';
import { documentType, ExtractionError, extractText } from '../src/knowledge/extract.ts';
import { pdfOf } from './support/documents.ts';
import { stubEmbedding } from '@chatbot/test-kit/llm-stub';

describe('document types', () => {
  it('takes the media type, or the extension when the media type says nothing more', () => {
    expect(documentType('text/markdown', 'notes.txt')).toBe('text/markdown');
    expect(documentType('text/plain', 'notes.md')).toBe('text/markdown');
    expect(documentType('application/octet-stream', 'report.PDF')).toBe('application/pdf');
    expect(documentType('text/html; charset=utf-8', 'page')).toBe('text/html');
    expect(documentType('', 'page.htm')).toBe('text/html');
    expect(documentType('text/plain', 'notes')).toBe('text/plain');
    expect(documentType('image/png', 'photo.png')).toBeUndefined();
    expect(documentType('application/octet-stream', 'tool.exe')).toBeUndefined();
  });
});

describe('extraction', () => {
  const bytes = (text: string) => new TextEncoder().encode(text);

  it('keeps HTML headings as Markdown headings and drops scripts, styles and navigation', async () => {
    const text = await extractText(
      bytes(
        '<html><head><style>p{}</style></head><body><nav>Home | About</nav><h1>Guide</h1>' +
          '<script>alert(1)</script><p>First <a href="https://x">link</a>.</p><h3>Details</h3><p>More.</p></body></html>',
      ),
      'text/html',
    );
    expect(text).toMatch(/^# Guide$/m);
    expect(text).toMatch(/^### Details$/m);
    expect(text).toContain('First link.');
    expect(text).not.toMatch(/alert|Home \| About|https:\/\/x|p\{\}/);
  });

  it('reads the text layer of a PDF, page by page', async () => {
    const text = await extractText(
      new Uint8Array(pdfOf(['Page one text', 'Page two (second)'])),
      'application/pdf',
    );
    expect(text).toBe('Page one text\n\nPage two (second)');
  });

  it('refuses for good what holds no text or is not what it says', async () => {
    await expect(extractText(bytes('just text'), 'application/pdf')).rejects.toThrow(ExtractionError);
    await expect(extractText(bytes('  \n\n '), 'text/plain')).rejects.toThrow('the document holds no text');
    await expect(
      extractText(bytes('<html><body><script>x</script></body></html>'), 'text/html'),
    ).rejects.toThrow(ExtractionError);
  });

  it('reads UTF-8 text without its byte-order mark, with Unix line ends', async () => {
    expect(await extractText(bytes('\uFEFFÄpfel\r\nBirne'), 'text/plain')).toBe('Äpfel\nBirne');
  });
});

describe('chunking', () => {
  it('cuts along headings: no chunk spans two sections, each carries its heading path', () => {
    const text =
      '# Guide\n\nIntro.\n\n## Install\n\nRun it.\n\n```\n# not a heading\n```\n\n## Use\n\nClick.\n\n# FAQ\n\nAsk.';
    expect(sections(text).map((s) => s.heading)).toEqual(['Guide', 'Guide > Install', 'Guide > Use', 'FAQ']);
    const chunks = chunkText(text, { size: 1000, overlap: 100 });
    expect(chunks).toEqual([
      { heading: 'Guide', content: 'Intro.' },
      { heading: 'Guide > Install', content: 'Run it.\n\n```\n# not a heading\n```' },
      { heading: 'Guide > Use', content: 'Click.' },
      { heading: 'FAQ', content: 'Ask.' },
    ]);
    expect(embeddingInput(chunks[1]!)).toBe('Guide > Install\n\nRun it.\n\n```\n# not a heading\n```');
  });

  it('keeps chunks within the size, carrying the overlap over from a word boundary', () => {
    const sentences = Array.from({ length: 40 }, (_, i) => `Sentence number ${i} says something useful.`);
    const chunks = chunkText(sentences.join(' '), { size: 200, overlap: 50 });
    expect(chunks.length).toBeGreaterThan(5);
    for (const chunk of chunks) expect(chunk.content.length).toBeLessThanOrEqual(200);
    for (let i = 1; i < chunks.length; i++) {
      const previous = chunks[i - 1]!.content;
      const start = chunks[i]!.content.slice(0, 20);
      expect(previous).toContain(start.slice(0, 10));
      expect(previous.endsWith(' ') || chunks[i]!.content.startsWith(' ')).toBe(false);
    }
    // Every sentence is somewhere, whole.
    const all = chunks.map((c) => c.content).join(' ');
    for (const sentence of sentences) expect(all).toContain(sentence);
  });

  it('cuts a word run longer than the size at spaces, and a text without headings has none', () => {
    const long = Array.from({ length: 300 }, (_, i) => `w${i}`).join(' ');
    const chunks = chunkText(long, { size: 100, overlap: 0 });
    expect(chunks.every((c) => c.heading === null && c.content.length <= 100)).toBe(true);
    expect(chunks.map((c) => c.content).join(' ')).toBe(long);
  });
});

describe('the stub embeddings', () => {
  it('are deterministic, normalised, and nearer for texts sharing words', () => {
    const a = stubEmbedding('refund for damaged items', 64, 'm');
    expect(stubEmbedding('refund for damaged items', 64, 'm')).toEqual(a);
    expect(Math.hypot(...a)).toBeCloseTo(1, 10);
    const dot = (x: number[], y: number[]) => x.reduce((n, v, i) => n + v * y[i]!, 0);
    expect(dot(a, stubEmbedding('damaged items refund policy', 64, 'm'))).toBeGreaterThan(
      dot(a, stubEmbedding('holiday booking portal', 64, 'm')),
    );
    expect(stubEmbedding('refund for damaged items', 64, 'other')).not.toEqual(a);
  });
});
