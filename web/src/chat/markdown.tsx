// Model output as Markdown, safely: no HTML from the model reaches the page (react-markdown
// shows raw HTML as the text it is; never add rehype-raw here), links open elsewhere without
// access to this page, unsafe URL schemes are dropped (react-markdown's defaultUrlTransform),
// and images are links instead of requests the page would make on the model's say.
import { useState, type ComponentPropsWithoutRef, type ReactNode } from 'react';
import Markdown, { type Components, type ExtraProps } from 'react-markdown';

function SafeLink({ href, children }: ComponentPropsWithoutRef<'a'> & ExtraProps) {
  if (!href) return <span className="unsafe-link">{children}</span>;
  return (
    <a href={href} target="_blank" rel="noopener noreferrer nofollow" referrerPolicy="no-referrer">
      {children}
    </a>
  );
}

function ImageAsLink({ src, alt }: ComponentPropsWithoutRef<'img'> & ExtraProps) {
  const label = `Image: ${alt?.trim() || 'untitled'}`;
  if (typeof src !== 'string' || src === '') return <span>[{label}]</span>;
  return (
    <a href={src} target="_blank" rel="noopener noreferrer nofollow" referrerPolicy="no-referrer">
      [{label}]
    </a>
  );
}

interface HastNode {
  type: string;
  value?: string;
  children?: HastNode[];
}

function textOf(node: HastNode | undefined): string {
  if (!node) return '';
  if (node.type === 'text') return node.value ?? '';
  return (node.children ?? []).map(textOf).join('');
}

function CodeBlock({ children, node }: ComponentPropsWithoutRef<'pre'> & ExtraProps) {
  const [copied, setCopied] = useState(false);
  const code = textOf(node as HastNode | undefined);
  async function copy() {
    try {
      await navigator.clipboard.writeText(code);
      setCopied(true);
      window.setTimeout(() => setCopied(false), 2000);
    } catch {
      setCopied(false);
    }
  }
  return (
    <div className="code-block">
      <pre>{children}</pre>
      <button type="button" className="copy-code" onClick={copy}>
        {copied ? 'Copied' : 'Copy code'}
      </button>
    </div>
  );
}

const components: Components = { a: SafeLink, img: ImageAsLink, pre: CodeBlock };

export function SafeMarkdown({ text }: { text: string }): ReactNode {
  return <Markdown components={components}>{text}</Markdown>;
}
