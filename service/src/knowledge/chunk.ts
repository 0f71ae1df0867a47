// Text into chunks for embedding and full-text search. A document with Markdown headings
// (`#` lines outside code fences; HTML headings become those too) is cut into sections first,
// and no chunk spans two sections: each chunk carries its section's heading path ("Guide >
// Install"). Inside a section, paragraphs are packed into chunks of at most `size`
// characters; a paragraph longer than that is cut at sentence ends, then at spaces. Each chunk
// after the first of a section starts with up to `overlap` characters of its predecessor's
// end (from a word boundary), so a passage cut in two is still found whole in one of them.

export interface ChunkOptions {
  /** Characters per chunk, at most. */
  size: number;
  /** Characters repeated from the previous chunk of the same section. */
  overlap: number;
}

export interface TextChunk {
  heading: string | null;
  content: string;
}

interface Section {
  heading: string | null;
  body: string;
}

const HEADING = /^(#{1,6})\s+(.+?)\s*#*\s*$/;
const FENCE = /^\s*(```|~~~)/;

/** Splits text at Markdown headings (outside fenced code), with each section's heading path. */
export function sections(text: string): Section[] {
  const found: Section[] = [];
  const path: { level: number; title: string }[] = [];
  let lines: string[] = [];
  let inFence = false;
  const flush = () => {
    const body = lines.join('\n').trim();
    if (body !== '') {
      found.push({ heading: path.length === 0 ? null : path.map((h) => h.title).join(' > '), body });
    }
    lines = [];
  };
  for (const line of text.split('\n')) {
    if (FENCE.test(line)) inFence = !inFence;
    const match = inFence ? null : HEADING.exec(line);
    if (match === null) {
      lines.push(line);
      continue;
    }
    flush();
    const level = match[1]!.length;
    while (path.length > 0 && path[path.length - 1]!.level >= level) path.pop();
    path.push({ level, title: match[2]!.trim() });
  }
  flush();
  return found;
}

/** Pieces of at most `size` characters: sentences, or words when a sentence is longer. */
function splitLong(paragraph: string, size: number): string[] {
  const pieces: string[] = [];
  for (const sentence of paragraph.split(/(?<=[.!?])\s+/)) {
    if (sentence.length <= size) {
      pieces.push(sentence);
      continue;
    }
    let rest = sentence;
    while (rest.length > size) {
      const cut = rest.lastIndexOf(' ', size);
      const at = cut > size / 2 ? cut : size;
      pieces.push(rest.slice(0, at));
      rest = rest.slice(at).trimStart();
    }
    if (rest !== '') pieces.push(rest);
  }
  return pieces;
}

/** The last `overlap` characters of a chunk, starting at a word boundary. */
function tail(text: string, overlap: number): string {
  if (overlap <= 0) return '';
  if (text.length <= overlap) return text;
  const start = text.length - overlap;
  const space = text.indexOf(' ', start);
  return space === -1 ? '' : text.slice(space + 1);
}

export function chunkText(text: string, options: ChunkOptions): TextChunk[] {
  const size = Math.max(1, options.size);
  const overlap = Math.min(Math.max(0, options.overlap), Math.floor(size / 2));
  const chunks: TextChunk[] = [];
  for (const section of sections(text.replace(/\r\n?/g, '\n'))) {
    const units: { text: string; separator: string }[] = [];
    for (const paragraph of section.body.split(/\n\s*\n/)) {
      const trimmed = paragraph.trim();
      if (trimmed === '') continue;
      const pieces = trimmed.length <= size ? [trimmed] : splitLong(trimmed, size);
      pieces.forEach((piece, i) => units.push({ text: piece, separator: i === 0 ? '\n\n' : ' ' }));
    }
    let current = '';
    let fresh = true; // `current` holds nothing but the carried-over overlap
    const emit = () => {
      if (!fresh) chunks.push({ heading: section.heading, content: current });
      current = tail(current, overlap);
      fresh = true;
    };
    for (const unit of units) {
      const joined = current === '' ? unit.text : `${current}${unit.separator}${unit.text}`;
      if (joined.length <= size) {
        current = joined;
        fresh = false;
        continue;
      }
      emit();
      const carried = current === '' ? unit.text : `${current}${unit.separator}${unit.text}`;
      // The overlap goes first when it fits, else the unit starts the chunk on its own.
      current = carried.length <= size ? carried : unit.text;
      fresh = false;
    }
    emit();
  }
  return chunks;
}

/** What is embedded for a chunk: its heading path, then its text. */
export function embeddingInput(chunk: TextChunk): string {
  return chunk.heading === null ? chunk.content : `${chunk.heading}\n\n${chunk.content}`;
}
