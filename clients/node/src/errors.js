'use strict';
// Status codes (gRPC numbering, as the evrepl contract uses them) and the client's error.

const Code = Object.freeze({
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
});

const NAMES = Object.fromEntries(Object.entries(Code).map(([k, v]) => [v, k]));

/** 'NOT_FOUND' for 5; 'UNKNOWN_CODE' for a number outside 0..16 (as evrepl_code_name). */
function codeName(code) {
  return Object.prototype.hasOwnProperty.call(NAMES, code) ? NAMES[code] : 'UNKNOWN_CODE';
}

/**
 * A call that did not succeed: the server's status, or one the client made up.
 * code: the number (any int32 the server sent; every code but 0 is an error).
 * details: one human-readable sentence. metadata: the response metadata when a response
 * arrived (x-request-id, x-evrepl-backend, ...), else {}.
 */
class EvreplError extends Error {
  constructor(code, details, metadata = {}) {
    super(`${codeName(code)} (${code}): ${details}`);
    this.name = 'EvreplError';
    this.code = code;
    this.codeName = codeName(code);
    this.details = details;
    this.metadata = { ...metadata };
  }
}

/** DEADLINE_EXCEEDED: no answer before the call's deadline. */
class DeadlineExceededError extends EvreplError {
  constructor(details, metadata = {}) {
    super(Code.DEADLINE_EXCEEDED, details, metadata);
    this.name = 'DeadlineExceededError';
  }
}

function makeError(code, details, metadata = {}) {
  return code === Code.DEADLINE_EXCEEDED
    ? new DeadlineExceededError(details, metadata)
    : new EvreplError(code, details, metadata);
}

module.exports = { Code, codeName, EvreplError, DeadlineExceededError, makeError };
