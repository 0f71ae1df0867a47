// The worker thread of `extractFile` (extract.ts): reads the file, extracts its text, posts it.
import { readFile } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { ExtractionError, extractText, type DocumentType, type ExtractionReply } from './extract.ts';

const { path, type } = workerData as { path: string; type: DocumentType };
let reply: ExtractionReply;
try {
  reply = { text: await extractText(new Uint8Array(await readFile(path)), type) };
} catch (error) {
  reply =
    error instanceof ExtractionError
      ? { error: error.message, permanent: true }
      : { error: `text extraction failed: ${(error as Error).message}`, permanent: false };
}
parentPort!.postMessage(reply);
