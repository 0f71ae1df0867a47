// What the routes' schemas share beside the API's shapes (@chatbot/api-types).
import { ErrorBody, Uuid } from '@chatbot/api-types/common';
import { ERROR_STATUS, type ErrorStatus } from '@chatbot/api-types/errors';
import { Type } from 'typebox';

export const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

/** The error responses every authenticated route may give: one for each status of API.md's codes. */
export const errorResponses = Object.fromEntries(
  Object.values(ERROR_STATUS).map((status) => [status, ErrorBody]),
) as Record<ErrorStatus, typeof ErrorBody>;
