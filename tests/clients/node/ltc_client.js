'use strict';
// ltc_client - a Node client of the LTC Process Center written from the contract (proto/) alone, the way another
// team would write one: @grpc/grpc-js with @grpc/proto-loader loading the .proto files at run time (no generated
// code), protobufjs to decode the google.rpc.Status error details. Dependencies pinned in package-lock.json
// (scripts/setup runs `npm ci` here).
//
//   const lc = require('./ltc_client');
//   const s = new lc.Stubs(lc.gatewayTarget());
//   const lead = (await s.ltb.CreateLead({lead: {...}, request_id: lc.newId()})).lead;
//
// - Messages are plain objects with the proto field names (keepCase); enums are their names ('LEAD_STATE_NEW');
//   64-bit integers are decimal strings (exact: amounts are converted with BigInt, never through a double).
// - Every call gets a deadline (10 s) and an `x-request-id` metadata, and returns a Promise.
// - decodeErrorDetails(err): the google.rpc.Status of the `grpc-status-details-bin` trailer, with its ErrorInfo
//   and BadRequest decoded.

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
for (const dep of ['@grpc/grpc-js', '@grpc/proto-loader', 'protobufjs']) {
  try {
    require.resolve(dep);
  } catch (e) {
    console.error(`ltc_client: ${dep} is not installed in ${__dirname}: run scripts/setup (npm ci there)`);
    process.exit(2);
  }
}
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const REPO = path.resolve(__dirname, '..', '..', '..');
const PROTO_DIR = path.join(REPO, 'proto');
const DEFAULT_TIMEOUT_MS = 10000;
const DETAILS_KEY = 'grpc-status-details-bin';

// --- loading the contract --------------------------------------------------------------------------------------

function protoFiles(sub) {
  const out = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.proto')) out.push(path.relative(PROTO_DIR, p));
    }
  };
  walk(path.join(PROTO_DIR, sub));
  return out;
}

const LOAD_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
                       includeDirs: [PROTO_DIR] };
const packageDefinition = protoLoader.loadSync(protoFiles('ltc'), LOAD_OPTIONS);
const api = grpc.loadPackageDefinition(packageDefinition);

// google.rpc.Status, ErrorInfo, BadRequest (vendored in proto/google/rpc), for the error details.
const rpcRoot = new protobuf.Root();
rpcRoot.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(PROTO_DIR, target));
rpcRoot.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto'], { keepCase: true });
const RpcStatus = rpcRoot.lookupType('google.rpc.Status');

// --- ids, targets -------------------------------------------------------------------------------------------

function newId() {
  return crypto.randomUUID();
}

function nameId(name) {
  return name.slice(name.lastIndexOf('/') + 1);
}

// HOST:PORT of the gateway: $LTC_GATEWAY_TARGET, else the default port shifted by $LTC_PORT_OFFSET (as
// scripts/stack places it).
function gatewayTarget() {
  if (process.env.LTC_GATEWAY_TARGET) return process.env.LTC_GATEWAY_TARGET;
  const offset = parseInt(process.env.LTC_PORT_OFFSET || '0', 10) || 0;
  return `127.0.0.1:${50051 + offset}`;
}

// --- stubs --------------------------------------------------------------------------------------------------

// Wraps a generated service client: every method returns a Promise, with a deadline and an x-request-id.
function promised(client, timeoutMs) {
  const wrapped = {};
  for (const name of Object.keys(Object.getPrototypeOf(client))) {
    if (typeof client[name] !== 'function' || name[0] !== name[0].toUpperCase()) continue;
    wrapped[name] = (request, opts = {}) => new Promise((resolve, reject) => {
      const md = new grpc.Metadata();
      md.set('x-request-id', opts.requestId || newId());
      const deadline = Date.now() + (opts.timeoutMs || timeoutMs);
      client[name](request, md, { deadline }, (err, resp) => (err ? reject(err) : resolve(resp)));
    });
  }
  wrapped.raw = client;
  return wrapped;
}

// Channel credentials: plaintext, or TLS verified against caFile with `authorization: Bearer <token>` on every call
// (the gateway of a secure stack). Defaults from LTC_CA_FILE and LTC_TOKEN.
function channelCredentials(caFile = process.env.LTC_CA_FILE, token = process.env.LTC_TOKEN) {
  if (!caFile) return grpc.credentials.createInsecure();
  const tls = grpc.credentials.createSsl(fs.readFileSync(caFile));
  if (!token) return tls;
  const bearer = grpc.credentials.createFromMetadataGenerator((_params, callback) => {
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${token}`);
    callback(null, md);
  });
  return grpc.credentials.combineChannelCredentials(tls, bearer);
}

class Stubs {
  constructor(target, timeoutMs = DEFAULT_TIMEOUT_MS, creds = channelCredentials()) {
    this.target = target;
    this.clients = [
      new api.ltc.ltb.v1.LeadToBidService(target, creds),
      new api.ltc.bto.v1.BidToOrderService(target, creds),
      new api.ltc.otd.v1.OrderToDeliveryService(target, creds),
      new api.ltc.dtc.v1.DeliveryToCashService(target, creds),
    ];
    [this.ltb, this.bto, this.otd, this.dtc] = this.clients.map((c) => promised(c, timeoutMs));
  }

  close() {
    for (const c of this.clients) c.close();
  }
}

// --- errors -------------------------------------------------------------------------------------------------

const CODE_NAMES = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k]));

// The error of a failed call with its details decoded:
//   {code, codeName, message, status, errorInfo: {reason, domain, metadata}, badRequest, fields, violations}
// status/errorInfo/badRequest are null when absent.
function decodeErrorDetails(err) {
  const d = { code: err.code, codeName: CODE_NAMES[err.code] || String(err.code), message: err.details || '',
              status: null, errorInfo: null, badRequest: null, others: [] };
  const raw = err.metadata ? err.metadata.get(DETAILS_KEY) : [];
  if (raw.length > 0) {
    const st = RpcStatus.decode(Buffer.isBuffer(raw[0]) ? raw[0] : Buffer.from(raw[0], 'latin1'));
    d.status = RpcStatus.toObject(st, { longs: String, defaults: true });
    for (const any of st.details) {
      const typeName = any.type_url.slice(any.type_url.lastIndexOf('/') + 1);
      let type = null;
      try {
        type = rpcRoot.lookupType(typeName);
      } catch (e) {
        d.others.push(any.type_url);
        continue;
      }
      const msg = type.toObject(type.decode(any.value), { defaults: true });
      if (typeName === 'google.rpc.ErrorInfo') d.errorInfo = msg;
      else if (typeName === 'google.rpc.BadRequest') d.badRequest = msg;
      else d.others.push(any.type_url);
    }
  }
  d.violations = d.badRequest ? d.badRequest.field_violations.map((v) => [v.field, v.description]) : [];
  d.fields = d.violations.map(([f]) => f);
  d.reason = d.errorInfo ? d.errorInfo.reason : '';
  d.domain = d.errorInfo ? d.errorInfo.domain : '';
  return d;
}

function describeError(err) {
  if (err && typeof err.code === 'number' && err.metadata) {
    const d = decodeErrorDetails(err);
    let s = `${d.codeName}: ${d.message}`;
    if (d.reason) s += ` [reason=${d.reason} domain=${d.domain}]`;
    if (d.violations.length) s += ` [${d.violations.map(([f, x]) => `${f}: ${x}`).join('; ')}]`;
    return s;
  }
  return String(err && err.stack ? err.stack : err);
}

// --- money and dates ----------------------------------------------------------------------------------------

const DIGITS = { JPY: 0, KRW: 0, VND: 0, CLP: 0, ISK: 0, KWD: 3, BHD: 3, JOD: 3, OMR: 3, TND: 3, IQD: 3, LYD: 3 };
const currencyDigits = (code) => (code in DIGITS ? DIGITS[code] : 2);

// A Money message from an amount in minor units (a BigInt or an integer Number).
function money(minor, currency = 'CNY') {
  const m = BigInt(minor);
  const scale = 10n ** BigInt(currencyDigits(currency));
  const sign = m < 0n ? -1n : 1n;
  const abs = m < 0n ? -m : m;
  return { currency_code: currency, units: String(sign * (abs / scale)),
           nanos: Number(sign * (abs % scale) * 10n ** BigInt(9 - currencyDigits(currency))) };
}

// The amount of a Money message in minor units, as a BigInt; throws when finer than the minor unit.
function toMinor(m, currency) {
  if (!m) throw new Error('no amount');
  if (currency && m.currency_code !== currency) throw new Error(`currency ${m.currency_code}, expected ${currency}`);
  const digits = currencyDigits(m.currency_code);
  const step = 10 ** (9 - digits);
  if (Math.abs(m.nanos) % step) throw new Error(`amount finer than the minor unit of ${m.currency_code}`);
  return BigInt(m.units) * 10n ** BigInt(digits) + BigInt(m.nanos / step);
}

function fmtMinor(minor, currency = 'CNY') {
  const digits = currencyDigits(currency);
  const m = BigInt(minor);
  const abs = m < 0n ? -m : m;
  const scale = 10n ** BigInt(digits);
  const frac = digits ? '.' + String(abs % scale).padStart(digits, '0') : '';
  return `${currency} ${m < 0n ? '-' : ''}${(abs / scale).toLocaleString('en-US')}${frac}`;
}

function daysAhead(n) {
  const d = new Date(Date.now() + n * 86400000);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

function fmtDate(d) {
  return `${String(d.year).padStart(4, '0')}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}`;
}

// --- waiting for asynchronous hand-offs ---------------------------------------------------------------------

const RETRY_CODES = new Set([grpc.status.NOT_FOUND, grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]);

// Calls fn() until it resolves to a truthy value; NOT_FOUND / UNAVAILABLE / DEADLINE_EXCEEDED count as "not yet".
async function waitFor(fn, what, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  let delay = 200;
  let last = '';
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = 'last result: not yet';
    } catch (err) {
      if (!RETRY_CODES.has(err.code)) throw err;
      last = `last error: ${describeError(err)}`;
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what} (${last})`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 1.5, 1000);
  }
}

module.exports = {
  api, grpc, packageDefinition, Stubs, channelCredentials, newId, nameId, gatewayTarget, decodeErrorDetails,
  describeError, money,
  toMinor, fmtMinor, daysAhead, fmtDate, waitFor, PROTO_DIR,
};
