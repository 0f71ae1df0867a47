// The chat API's shapes as types only (API.md): what the web imports. Nothing here reaches
// a bundle; the schemas themselves are in the modules beside this one.
export type { ErrorBody, Page, Role } from './common.ts';
export type { ErrorCode, ErrorStatus } from './errors.ts';
export type * from './knowledge-bases.ts';
export type * from './me.ts';
export type * from './sessions.ts';
export type * from './tenants.ts';
export type * from './tokens.ts';
export type * from './usage.ts';
