'use strict';
// The evrepl wire messages, loaded at run time from the repository's proto/ files with
// protobufjs, so they cannot drift from the contract. google/protobuf/timestamp.proto comes
// from the definitions bundled with protobufjs.
//
// Where the .proto files are found: $EVREPL_PROTO_DIR, else ./proto inside this package (a
// packed copy), else proto/ at the root of the evrepl repository this package lives in.

const fs = require('fs');
const path = require('path');
const protobuf = require('protobufjs');

const PROTO_FILES = [
  'evrepl/rpc/v1/envelope.proto',
  'evrepl/v1/replicator.proto',
  'evrepl/v1/health.proto',
  'evrepl/v1/server.proto',
];

function protoDir() {
  const candidates = [
    process.env.EVREPL_PROTO_DIR,
    path.join(__dirname, '..', 'proto'),
    path.join(__dirname, '..', '..', '..', 'proto'),
  ].filter(Boolean);
  for (const dir of candidates) {
    if (fs.existsSync(path.join(dir, PROTO_FILES[0]))) return dir;
  }
  throw new Error(`evrepl: cannot find the .proto files (looked in ${candidates.join(', ')}); set EVREPL_PROTO_DIR`);
}

function loadRoot(dir = protoDir()) {
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) =>
    target.startsWith('google/protobuf/') ? target : path.join(dir, target);
  root.loadSync(PROTO_FILES, { keepCase: false });
  root.resolveAll();
  return root;
}

const root = loadRoot();
const t = (name) => root.lookupType(name);

module.exports = {
  root,
  loadRoot,
  protoDir,
  PROTO_FILES,
  Request: t('evrepl.rpc.v1.Request'),
  Response: t('evrepl.rpc.v1.Response'),
  Status: t('evrepl.rpc.v1.Status'),
  PropagateEventRequest: t('evrepl.v1.PropagateEventRequest'),
  ReplicationReceipt: t('evrepl.v1.ReplicationReceipt'),
  VerifyReplicasRequest: t('evrepl.v1.VerifyReplicasRequest'),
  VerificationResult: t('evrepl.v1.VerificationResult'),
  HealthCheckRequest: t('evrepl.v1.HealthCheckRequest'),
  HealthCheckResponse: t('evrepl.v1.HealthCheckResponse'),
  DescribeRequest: t('evrepl.v1.DescribeRequest'),
  ServerDescription: t('evrepl.v1.ServerDescription'),
  ReplicationStatus: root.lookupEnum('evrepl.v1.ReplicationStatus').values,
  AckState: root.lookupEnum('evrepl.v1.AckState').values,
  ServingStatus: root.lookupEnum('evrepl.v1.HealthCheckResponse.ServingStatus').values,
};
