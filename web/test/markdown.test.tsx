import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { SafeMarkdown } from '../src/chat/markdown.tsx';

describe('model output as Markdown', () => {
  it('shows HTML from the model as text and never as elements', () => {
    const text =
      'Look: <script>window.hacked = true</script>\n\n<img src="x" onerror="window.hacked = true">\n\n' +
      'inline <b onclick="x()">bold</b> and <iframe src="https://evil.example"></iframe>';
    const { container } = render(<SafeMarkdown text={text} />);
    expect(container.querySelector('script, img, iframe, b, [onerror], [onclick]')).toBeNull();
    expect(container).toHaveTextContent('<script>window.hacked = true</script>');
    expect(container).toHaveTextContent('<img src="x" onerror="window.hacked = true">');
    expect(container).toHaveTextContent('<b onclick="x()">bold</b>');
    expect((window as { hacked?: boolean }).hacked).toBeUndefined();
  });

  it('renders Markdown: emphasis, lists, inline code and fenced code blocks', () => {
    const { container } = render(
      <SafeMarkdown text={'**Steps**\n\n1. one\n2. `two`\n\n```ts\nconst a = "<b>";\n```\n'} />,
    );
    expect(screen.getByText('Steps').tagName).toBe('STRONG');
    expect(container.querySelectorAll('ol li')).toHaveLength(2);
    const code = container.querySelector('pre code');
    expect(code).toHaveTextContent('const a = "<b>";');
    expect(code).toHaveClass('language-ts');
    expect(screen.getByRole('button', { name: 'Copy code' })).toBeInTheDocument();
  });

  it('copies a code block', async () => {
    const user = userEvent.setup();
    render(<SafeMarkdown text={'```\necho hi\n```'} />);
    await user.click(screen.getByRole('button', { name: 'Copy code' }));
    expect(await navigator.clipboard.readText()).toBe('echo hi\n');
    expect(await screen.findByRole('button', { name: 'Copied' })).toBeInTheDocument();
  });

  it('opens links in a new tab without access to the page, and drops javascript: links', () => {
    render(<SafeMarkdown text={'[docs](https://example.com/a) and [click me](javascript:alert(1))'} />);
    const link = screen.getByRole('link', { name: 'docs' });
    expect(link).toHaveAttribute('href', 'https://example.com/a');
    expect(link).toHaveAttribute('target', '_blank');
    expect(link.getAttribute('rel')).toContain('noopener');
    expect(screen.queryByRole('link', { name: 'click me' })).not.toBeInTheDocument();
    expect(screen.getByText('click me')).toBeInTheDocument();
  });

  it('turns images into links so the page loads nothing the model names', () => {
    const { container } = render(<SafeMarkdown text={'![a chart](https://tracker.example/pixel.png)'} />);
    expect(container.querySelector('img')).toBeNull();
    expect(screen.getByRole('link', { name: '[Image: a chart]' })).toHaveAttribute(
      'href',
      'https://tracker.example/pixel.png',
    );
  });
});
