// Usage per day (GET /v1/usage) as inline SVG bars: prompt and completion tokens stacked.
import { useEffect, useState } from 'react';
import type { ApiClient } from '@chatbot/api-client';
import { describeError } from '../api/errors.ts';
import type { UsageDay } from '@chatbot/api-types';
import { formatNumber } from '../format.ts';

const DAYS = 30;

function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** The last `count` days (UTC) up to `today`, oldest first. */
export function lastDays(count: number, today: Date = new Date()): string[] {
  const end = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate());
  return Array.from({ length: count }, (_, i) => isoDay(new Date(end - (count - 1 - i) * 86_400_000)));
}

/** One entry per day of `days`, zero where the service reported no traffic. */
export function fillDays(days: string[], items: UsageDay[]): UsageDay[] {
  const byDay = new Map(items.map((item) => [item.day, item]));
  return days.map((day) => byDay.get(day) ?? { day, requests: 0, promptTokens: 0, completionTokens: 0 });
}

export function UsageChart({ days }: { days: UsageDay[] }) {
  const width = 600;
  const height = 180;
  const top = 10;
  const bottom = 24;
  const plot = height - top - bottom;
  const max = Math.max(1, ...days.map((d) => d.promptTokens + d.completionTokens));
  const slot = width / Math.max(1, days.length);
  const bar = Math.max(2, slot * 0.7);
  const total = days.reduce((sum, d) => sum + d.promptTokens + d.completionTokens, 0);
  const first = days[0]?.day ?? '';
  const last = days[days.length - 1]?.day ?? '';
  return (
    <svg
      className="usage-chart"
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={`Tokens per day from ${first} to ${last}: ${formatNumber(total)} in total, at most ${formatNumber(max)} on one day.`}
    >
      <line x1={0} x2={width} y1={top + plot} y2={top + plot} className="axis" />
      {days.map((d, i) => {
        const x = i * slot + (slot - bar) / 2;
        const promptHeight = (d.promptTokens / max) * plot;
        const completionHeight = (d.completionTokens / max) * plot;
        return (
          <g key={d.day}>
            <title>
              {`${d.day}: ${formatNumber(d.requests)} requests, ${formatNumber(d.promptTokens)} prompt tokens, ${formatNumber(d.completionTokens)} completion tokens`}
            </title>
            <rect className="bar-hit" x={i * slot} y={top} width={slot} height={plot} />
            <rect
              className="bar-prompt"
              x={x}
              y={top + plot - promptHeight}
              width={bar}
              height={promptHeight}
            />
            <rect
              className="bar-completion"
              x={x}
              y={top + plot - promptHeight - completionHeight}
              width={bar}
              height={completionHeight}
            />
          </g>
        );
      })}
      <text x={0} y={height - 6} className="axis-label">
        {first}
      </text>
      <text x={width} y={height - 6} className="axis-label" textAnchor="end">
        {last}
      </text>
    </svg>
  );
}

export function UsagePanel({ api }: { api: ApiClient }) {
  const [days] = useState(() => lastDays(DAYS));
  const [items, setItems] = useState<UsageDay[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let active = true;
    api.usage({ from: days[0], to: days[days.length - 1] }).then(
      (answer) => {
        if (active) setItems(answer.items);
      },
      (caught: unknown) => {
        if (active) setError(describeError(caught));
      },
    );
    return () => {
      active = false;
    };
  }, [api, days]);

  const filled = items === null ? [] : fillDays(days, items);
  const totals = filled.reduce(
    (sum, d) => ({
      requests: sum.requests + d.requests,
      promptTokens: sum.promptTokens + d.promptTokens,
      completionTokens: sum.completionTokens + d.completionTokens,
    }),
    { requests: 0, promptTokens: 0, completionTokens: 0 },
  );

  return (
    <section className="card" aria-labelledby="settings-usage-heading">
      <h2 id="settings-usage-heading">Usage, last {DAYS} days</h2>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {items === null && !error && <p className="hint">Loading usage…</p>}
      {items !== null && (
        <>
          <dl className="facts totals">
            <dt>Requests</dt>
            <dd>{formatNumber(totals.requests)}</dd>
            <dt>Prompt tokens</dt>
            <dd>{formatNumber(totals.promptTokens)}</dd>
            <dt>Completion tokens</dt>
            <dd>{formatNumber(totals.completionTokens)}</dd>
          </dl>
          <UsageChart days={filled} />
          <p className="legend" aria-hidden="true">
            <span className="swatch swatch-prompt" /> Prompt tokens{' '}
            <span className="swatch swatch-completion" /> Completion tokens
          </p>
          <details>
            <summary>Usage as a table</summary>
            <div className="table-scroll">
              <table>
                <caption className="visually-hidden">Usage per day</caption>
                <thead>
                  <tr>
                    <th scope="col">Day</th>
                    <th scope="col">Requests</th>
                    <th scope="col">Prompt tokens</th>
                    <th scope="col">Completion tokens</th>
                  </tr>
                </thead>
                <tbody>
                  {filled
                    .filter((d) => d.requests > 0 || d.promptTokens > 0 || d.completionTokens > 0)
                    .map((d) => (
                      <tr key={d.day}>
                        <th scope="row">{d.day}</th>
                        <td>{formatNumber(d.requests)}</td>
                        <td>{formatNumber(d.promptTokens)}</td>
                        <td>{formatNumber(d.completionTokens)}</td>
                      </tr>
                    ))}
                </tbody>
              </table>
            </div>
          </details>
        </>
      )}
    </section>
  );
}
