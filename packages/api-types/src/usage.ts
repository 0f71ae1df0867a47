// GET /v1/usage: requests and tokens per day with traffic.
import { Type, type Static } from 'typebox';

export const UsageDay = Type.Object({
  day: Type.String(),
  requests: Type.Integer(),
  promptTokens: Type.Integer(),
  completionTokens: Type.Integer(),
});
export type UsageDay = Static<typeof UsageDay>;

export const UsageReport = Type.Object({ items: Type.Array(UsageDay) });
export type UsageReport = Static<typeof UsageReport>;
