'use strict';
// The Node client reads proto/ itself; these tests pin what it relies on to contract.md.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const evrepl = require('..');
const pb = require('../src/proto');
const { REPO } = require('./support');

test('the .proto files come from this repository\'s proto/', () => {
  assert.equal(path.resolve(pb.protoDir()), path.join(REPO, 'proto'));
});

test('Method paths are the services\' methods in gRPC path form', () => {
  const paths = [];
  pb.root.resolveAll();
  const walk = (ns) => {
    for (const obj of ns.nestedArray || []) {
      if (obj.methods) for (const m of Object.values(obj.methods)) paths.push(`/${obj.fullName.slice(1)}/${m.name}`);
      if (obj.nestedArray) walk(obj);
    }
  };
  walk(pb.root);
  assert.deepEqual(paths.sort(), Object.values(evrepl.Method).sort());
});

test('field numbers the client depends on (contract.md)', () => {
  const num = (type, field) => pb[type].fields[field].id;
  assert.equal(num('Request', 'method'), 1);
  assert.equal(num('Request', 'payload'), 2);
  assert.equal(num('Request', 'timeoutMs'), 3);
  assert.equal(num('Request', 'metadata'), 4);
  assert.equal(num('Response', 'status'), 1);
  assert.equal(num('Response', 'payload'), 2);
  assert.equal(num('Response', 'metadata'), 3);
  assert.equal(num('ReplicationReceipt', 'signature'), 7);
  assert.equal(num('ReplicationReceipt', 'signerKeyId'), 8);
  assert.equal(num('VerificationResult', 'signature'), 10);
  assert.equal(num('ServerDescription', 'receiptPublicKey'), 8);
  assert.equal(evrepl.ServingStatus.SERVING, 1);
  assert.equal(evrepl.ReplicationStatus.REPLICATION_STATUS_NOT_CONFIGURED, 4);
  assert.equal(evrepl.AckState.ACK_STATE_UNREACHABLE, 4);
});
