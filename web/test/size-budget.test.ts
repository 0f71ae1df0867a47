import { describe, expect, it } from 'vitest';
import { measureChunks } from '../scripts/js-size-budget.ts';

describe('JavaScript size budget', () => {
  it('counts the entry and what it imports statically, not chunks loaded on demand', () => {
    const report = measureChunks([
      { fileName: 'index.js', code: 'a'.repeat(1000), isEntry: true, imports: ['vendor.js'] },
      { fileName: 'vendor.js', code: 'b'.repeat(1000), isEntry: false, imports: [] },
      { fileName: 'settings.js', code: 'c'.repeat(1000), isEntry: false, imports: ['vendor.js'] },
    ]);
    const onPage = report.files.filter((f) => f.onChatPage).map((f) => f.fileName);
    expect(onPage.sort()).toEqual(['index.js', 'vendor.js']);
    const sizeOf = (name: string) => report.files.find((f) => f.fileName === name)!.gzipBytes;
    expect(report.chatPageBytes).toBe(sizeOf('index.js') + sizeOf('vendor.js'));
    expect(report.totalBytes).toBe(report.chatPageBytes + sizeOf('settings.js'));
    expect(sizeOf('index.js')).toBeLessThan(1000); // gzipped, not raw
  });
});
