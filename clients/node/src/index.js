'use strict';
// evrepl: a Node.js client of the evrepl replication-verification service.
//
//   const evrepl = require('evrepl');
//   const c = await evrepl.Client.connect('tcp://127.0.0.1:7450');
//   const receipt = await c.propagateEvent('0b7e0a4c-2f1d-4c55-9a64-7d3c1e2f9a10');
//   evrepl.verifyReceipt(receipt, (await c.describe()).receiptPublicKey);
//
// The wire protocol is in docs/protocol.md.

const { Client, Method, DEFAULT_TIMEOUT_MS } = require('./client');
const { Code, codeName, EvreplError, DeadlineExceededError } = require('./errors');
const types = require('./types');
const signing = require('./signing');
const events = require('./events');

module.exports = {
  Client,
  Method,
  DEFAULT_TIMEOUT_MS,
  Code,
  codeName,
  EvreplError,
  DeadlineExceededError,
  ReplicationStatus: types.ReplicationStatus,
  AckState: types.AckState,
  ServingStatus: types.ServingStatus,
  replicationStatusName: types.replicationStatusName,
  ackStateName: types.ackStateName,
  servingStatusName: types.servingStatusName,
  Timestamp: types.Timestamp,
  isValid: types.isValid,
  receiptFromWire: types.receiptFromWire,
  verificationFromWire: types.verificationFromWire,
  descriptionFromWire: types.descriptionFromWire,
  keyId: signing.keyId,
  receiptCanonicalBytes: signing.receiptCanonicalBytes,
  verificationCanonicalBytes: signing.verificationCanonicalBytes,
  verifyReceipt: signing.verifyReceipt,
  verifyVerification: signing.verifyVerification,
  eventCanonicalBytes: events.eventCanonicalBytes,
  eventContentHash: events.eventContentHash,
  eventFieldProblem: events.eventFieldProblem,
  checkEvent: events.checkEvent,
  checkChain: events.checkChain,
  decodeEventCanonical: events.decodeEventCanonical,
};
