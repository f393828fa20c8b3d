import { randomBytes } from 'node:crypto'
import type { RequestTokenRecord, V4RequestTokenRecord } from '../core/store.js'

/** A stored v3 request token of `appId` that nobody has acted on: made at `createdAt`, for an hour unless `fields` say otherwise. */
export function pendingRequestTokenRow(
  appId: string,
  createdAt: number,
  fields: Partial<Pick<RequestTokenRecord, 'tokenHash' | 'expiresAt'>> = {},
): RequestTokenRecord {
  return {
    tokenHash: fields.tokenHash ?? randomBytes(32).toString('hex'),
    appId,
    createdAt,
    expiresAt: fields.expiresAt ?? createdAt + 3_600_000,
    status: 'pending',
    accountId: null,
    consumedAt: null,
    epoch: null,
  }
}

/** A stored v4 request token of `appId` that nobody has acted on: made at `createdAt`, for 15 minutes. */
export function pendingV4RequestTokenRow(
  appId: string,
  createdAt: number,
  fields: Partial<Pick<V4RequestTokenRecord, 'idHash' | 'redirectTo'>> = {},
): V4RequestTokenRecord {
  return {
    idHash: fields.idHash ?? randomBytes(32).toString('hex'),
    appId,
    createdAt,
    expiresAt: createdAt + 900_000,
    redirectTo: fields.redirectTo ?? null,
    status: 'pending',
    accountId: null,
    consumedAt: null,
    epoch: null,
  }
}
