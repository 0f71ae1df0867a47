// Uploaded documents on the uploads volume (UPLOADS_DIR): <tenant>/<knowledge base>/<document>.
// An upload streams into `.incoming/` first (hashed and counted as it arrives) and moves into
// place once its document row exists, so a refused or broken upload leaves nothing behind.
// Every path part is a UUID the service made or validated.
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface ReceivedFile {
  path: string;
  bytes: number;
  sha256: string;
}

export interface DocumentFile {
  tenantId: string;
  knowledgeBaseId: string;
  id: string;
}

export function createUploadStorage(options: { dir: string }) {
  const root = resolve(options.dir);
  const incoming = join(root, '.incoming');

  const pathOf = (doc: DocumentFile) => join(root, doc.tenantId, doc.knowledgeBaseId, doc.id);

  /** Streams an upload into a file of its own, hashing and counting it. */
  async function receive(stream: Readable): Promise<ReceivedFile> {
    await mkdir(incoming, { recursive: true });
    const path = join(incoming, randomUUID());
    const hash = createHash('sha256');
    let bytes = 0;
    const count = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(stream, count, createWriteStream(path, { flags: 'wx' }));
    } catch (error) {
      await rm(path, { force: true });
      throw error;
    }
    return { path, bytes, sha256: hash.digest('hex') };
  }

  /** Moves a received file to its document's place. */
  async function keep(received: ReceivedFile, doc: DocumentFile): Promise<void> {
    const target = pathOf(doc);
    await mkdir(join(root, doc.tenantId, doc.knowledgeBaseId), { recursive: true });
    await rename(received.path, target);
  }

  async function discard(received: ReceivedFile | undefined): Promise<void> {
    if (received !== undefined) await rm(received.path, { force: true });
  }

  const removeDocument = (doc: DocumentFile) => rm(pathOf(doc), { force: true });
  const removeBase = (base: { tenantId: string; id: string }) =>
    rm(join(root, base.tenantId, base.id), { recursive: true, force: true });
  const removeTenant = (tenantId: string) => rm(join(root, tenantId), { recursive: true, force: true });

  return { pathOf, receive, keep, discard, removeDocument, removeBase, removeTenant };
}

export type UploadStorage = ReturnType<typeof createUploadStorage>;
