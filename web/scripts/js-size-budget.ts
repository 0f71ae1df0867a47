// A Vite plugin that prints the gzipped size of the build's JavaScript and fails the build
// when the chat page (the entry and every chunk it imports statically) exceeds the budget.
import { gzipSync } from 'node:zlib';
import type { Plugin } from 'vite';

export interface ChunkInfo {
  fileName: string;
  code: string;
  isEntry: boolean;
  imports: string[];
}

export interface SizeReport {
  files: { fileName: string; gzipBytes: number; onChatPage: boolean }[];
  chatPageBytes: number;
  totalBytes: number;
}

export function measureChunks(chunks: ChunkInfo[]): SizeReport {
  const byName = new Map(chunks.map((chunk) => [chunk.fileName, chunk]));
  const onPage = new Set<string>();
  const visit = (name: string) => {
    if (onPage.has(name)) return;
    const chunk = byName.get(name);
    if (!chunk) return;
    onPage.add(name);
    chunk.imports.forEach(visit);
  };
  chunks.filter((chunk) => chunk.isEntry).forEach((chunk) => visit(chunk.fileName));
  const files = chunks
    .map((chunk) => ({
      fileName: chunk.fileName,
      gzipBytes: gzipSync(chunk.code).length,
      onChatPage: onPage.has(chunk.fileName),
    }))
    .sort((a, b) => b.gzipBytes - a.gzipBytes);
  return {
    files,
    chatPageBytes: files.filter((f) => f.onChatPage).reduce((sum, f) => sum + f.gzipBytes, 0),
    totalBytes: files.reduce((sum, f) => sum + f.gzipBytes, 0),
  };
}

/** Kilobytes of 1000 bytes, as Vite prints them. */
const kb = (bytes: number) => `${(bytes / 1000).toFixed(1)} kB`;

export function jsSizeBudget(options: { limitBytes: number }): Plugin {
  return {
    name: 'chatbot-js-size-budget',
    apply: 'build',
    generateBundle(_output, bundle) {
      const chunks: ChunkInfo[] = [];
      for (const item of Object.values(bundle)) {
        if (item.type === 'chunk') {
          chunks.push({
            fileName: item.fileName,
            code: item.code,
            isEntry: item.isEntry,
            imports: item.imports,
          });
        }
      }
      const report = measureChunks(chunks);
      console.log('\nJavaScript, gzipped:');
      for (const file of report.files) {
        console.log(
          `  ${file.fileName.padEnd(44)} ${kb(file.gzipBytes).padStart(10)}${file.onChatPage ? '  (chat page)' : ''}`,
        );
      }
      console.log(
        `  chat page: ${kb(report.chatPageBytes)} of ${kb(options.limitBytes)} allowed; all JavaScript: ${kb(report.totalBytes)}\n`,
      );
      if (report.chatPageBytes > options.limitBytes) {
        this.error(
          `The chat page's JavaScript is ${kb(report.chatPageBytes)} gzipped, over the ${kb(options.limitBytes)} budget.`,
        );
      }
    },
  };
}
