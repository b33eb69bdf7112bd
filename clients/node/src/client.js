'use strict';
// The evrepl client: envelope, deadlines, typed calls.

const pb = require('./proto');
const { Code, EvreplError, makeError } = require('./errors');
const { SPConnection, parseUrl } = require('./sp');
const types = require('./types');

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
const MAX_TIMEOUT_MS = 0xffffffff; // timeout_ms is a uint32 on the wire

const Method = Object.freeze({
  PROPAGATE_EVENT: '/evrepl.v1.EventReplicator/PropagateEvent',
  VERIFY_REPLICAS: '/evrepl.v1.EventReplicator/VerifyReplicas',
  HEALTH_CHECK: '/evrepl.v1.Health/Check',
  DESCRIBE: '/evrepl.v1.Server/Describe',
});

function checkTimeout(ms) {
  if (ms === undefined || ms === null) return undefined;
  if (!Number.isInteger(ms) || ms < 0 || ms > MAX_TIMEOUT_MS) {
    throw new EvreplError(Code.INVALID_ARGUMENT, `timeoutMs must be 0..${MAX_TIMEOUT_MS} ms`);
  }
  return ms;
}

function decode(type, buf) {
  try {
    return type.decode(buf);
  } catch (e) {
    throw new EvreplError(Code.INTERNAL, `malformed response from server: not a ${type.fullName.slice(1)}`);
  }
}

/**
 * A client of one evrepl server (tcp://HOST:PORT or ipc://PATH).
 *
 * Every call has a deadline: its timeoutMs, else the client's (default 5000 ms). It bounds
 * connecting, sending and waiting, and is sent to the server as the envelope's timeout_ms.
 * Calls may run concurrently on one connection (replies are matched by request id). A lost
 * connection fails the calls in flight with UNAVAILABLE (never resent); the next call
 * reconnects. An idle client does not keep the process alive; close() ends it.
 */
class Client {
  /** Creates a client and connects at once, so a wrong URL or a down server is reported here. */
  static async connect(url, opts = {}) {
    const c = new Client(url, opts);
    await c._connection(Date.now() + c.timeoutMs);
    return c;
  }

  /** Creates a client without connecting (the first call connects). */
  constructor(url, { timeoutMs, token, maxResponseBytes } = {}) {
    parseUrl(url); // INVALID_ARGUMENT now rather than at the first call
    this.url = url;
    this.timeoutMs = checkTimeout(timeoutMs) || DEFAULT_TIMEOUT_MS;
    this.maxResponseBytes = maxResponseBytes || DEFAULT_MAX_RESPONSE_BYTES;
    this._authorization = token !== undefined && token !== null ? `Bearer ${token}` : null;
    this._conn = null;
    this._connecting = null;
    /** Metadata of the last response this client received (any outcome), as evrepl_client_response_metadata. */
    this.lastMetadata = {};
  }

  _timeout(ms) {
    return checkTimeout(ms) || this.timeoutMs;
  }

  async _connection(deadline) {
    if (this._conn && !this._conn.closed) return this._conn;
    if (!this._connecting) {
      this._connecting = SPConnection.connect(this.url, deadline, this.maxResponseBytes)
        .then((c) => {
          this._conn = c;
          return c;
        })
        .finally(() => {
          this._connecting = null;
        });
    }
    return this._connecting;
  }

  close() {
    if (this._conn) this._conn.close();
    this._conn = null;
  }

  /**
   * Sends body (any bytes, normally a serialized evrepl.rpc.v1.Request) as one request and
   * resolves with the reply body (normally a serialized Response). No envelope handling: the
   * SP request/reply alone, for tests and tools.
   */
  async exchange(body, { timeoutMs } = {}) {
    const deadline = Date.now() + this._timeout(timeoutMs);
    const conn = await this._connection(deadline);
    return conn.request(Buffer.from(body), deadline);
  }

  /** The serialized Request this client sends for a call (see call()). */
  envelope(method, payload = Buffer.alloc(0), { metadata, timeoutMs, requestId } = {}) {
    const md = { ...(metadata || {}) };
    if (requestId !== undefined && requestId !== null) md['x-request-id'] = requestId;
    if (this._authorization) md.authorization = this._authorization;
    const req = pb.Request.create({
      method,
      payload: Buffer.from(payload),
      timeoutMs: this._timeout(timeoutMs),
      metadata: md,
    });
    return Buffer.from(pb.Request.encode(req).finish());
  }

  /**
   * Calls method (path form, '/evrepl.v1.Health/Check') with payload (a serialized request
   * message). Resolves with { payload, metadata }: the serialized response message and the
   * response metadata. Rejects with an EvreplError carrying the server's status for any code
   * but 0, DeadlineExceededError when no answer came before the deadline, UNAVAILABLE when
   * the server cannot be reached or the connection was lost, INTERNAL for a response that
   * breaks the contract. metadata keys are not checked here (the server answers a bad key
   * with INVALID_ARGUMENT).
   */
  async call(method, payload = Buffer.alloc(0), opts = {}) {
    const body = this.envelope(method, payload, opts);
    const reply = await this.exchange(body, opts);
    const resp = decode(pb.Response, reply);
    const metadata = { ...(resp.metadata || {}) };
    this.lastMetadata = metadata;
    const code = resp.status ? resp.status.code || 0 : 0;
    if (code !== Code.OK) {
      // Any code, even one this client does not know, is an error.
      throw makeError(code, resp.status.message || String(code), metadata);
    }
    return { payload: Buffer.from(resp.payload || []), metadata };
  }

  async _typed(method, reqType, req, respType, opts) {
    const payload = Buffer.from(reqType.encode(reqType.create(req)).finish());
    const { payload: out } = await this.call(method, payload, opts);
    return decode(respType, out);
  }

  /** PropagateEvent: resolves with a receipt. eventId is canonical UUID text. */
  async propagateEvent(eventId, opts = {}) {
    const m = await this._typed(Method.PROPAGATE_EVENT, pb.PropagateEventRequest, { eventId },
      pb.ReplicationReceipt, opts);
    return types.receiptFromWire(m);
  }

  /** VerifyReplicas: resolves with a verification result (see isValid()). */
  async verifyReplicas({ tail = 0, fullAudit = false } = {}, opts = {}) {
    const m = await this._typed(Method.VERIFY_REPLICAS, pb.VerifyReplicasRequest, { tail, fullAudit },
      pb.VerificationResult, opts);
    return types.verificationFromWire(m);
  }

  /** Health/Check: resolves with a ServingStatus number. NOT_FOUND for a service the server lacks. */
  async health(service = '', opts = {}) {
    const m = await this._typed(Method.HEALTH_CHECK, pb.HealthCheckRequest, { service: service || '' },
      pb.HealthCheckResponse, opts);
    return m.status || 0;
  }

  /** Server/Describe: resolves with the server description (receiptPublicKey checks receipts). */
  async describe(opts = {}) {
    const m = await this._typed(Method.DESCRIBE, pb.DescribeRequest, {}, pb.ServerDescription, opts);
    return types.descriptionFromWire(m);
  }
}

module.exports = { Client, Method, DEFAULT_TIMEOUT_MS, DEFAULT_MAX_RESPONSE_BYTES };
