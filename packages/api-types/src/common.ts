// What every resource of the chat API shares (API.md, "Conventions").
import { Type, type Static, type TSchema } from 'typebox';

export const Uuid = Type.String({ format: 'uuid' });
export const Timestamp = Type.String({ format: 'date-time' });
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const Role = Type.Union([
  Type.Literal('user'),
  Type.Literal('tenant_admin'),
  Type.Literal('platform_admin'),
]);
export type Role = Static<typeof Role>;

export const ErrorBody = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
  }),
});
export type ErrorBody = Static<typeof ErrorBody>;

/** A list's answer: one page of items and the cursor of the next page (null: the last). */
export const page = <T extends TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), nextCursor: Nullable(Type.String()) });
export type Page<Item> = Omit<Static<ReturnType<typeof page>>, 'items'> & { items: Item[] };
