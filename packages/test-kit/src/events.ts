// A server-sent-events answer read to its end with the API client's parser: each event's data
// JSON-decoded (`[DONE]`, the OpenAI protocol's last one, kept as text), with when it arrived.
import { readSseEvents } from '@chatbot/api-client/sse';

export interface ReadEvent {
  event: string;
  data: any;
  /** performance.now() when it was parsed. */
  at: number;
}

export async function readEvents(
  response: Response,
  onEvent?: (event: ReadEvent) => void,
): Promise<ReadEvent[]> {
  const events: ReadEvent[] = [];
  for await (const { event, data } of readSseEvents(response.body!)) {
    const parsed = { event, data: data === '[DONE]' ? data : JSON.parse(data), at: performance.now() };
    events.push(parsed);
    onEvent?.(parsed);
  }
  return events;
}
